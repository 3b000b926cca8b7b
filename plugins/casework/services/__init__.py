"""群众诉求 rules: plain functions, no request object, callable from tests and jobs.

cases.py: raising, reading and the steps of a case; escalation.py: the timer
job; stats.py: statistics, the monthly report and the public board.
"""

from plugins.casework.services.cases import (  # noqa: F401
    accept,
    cases_handled_under,
    due_for,
    escalate,
    get_case,
    may_read,
    my_cases,
    photo_of,
    raise_case,
    rate,
    resolve,
    timeline,
    waiting_count,
)
from plugins.casework.services.escalation import escalate_overdue  # noqa: F401
from plugins.casework.services.stats import (  # noqa: F401
    board,
    report_rows,
    stats,
    stats_by_child,
)
