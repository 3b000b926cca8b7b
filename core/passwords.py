"""The password rule, in one place: register, change, reset and create-admin use it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH, MAX_LENGTH = 8, 128
COMMON_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, phone: str | None = None) -> str | None:
    """Why ``password`` is refused (a Chinese sentence), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 位"
    if len(set(password)) == 1:
        return "密码不能是同一个字符的重复"
    if phone and password.strip() == phone:
        return "密码不能与手机号相同"
    if password.lower() in common_passwords():
        return "这个密码太常见，容易被猜到，请换一个"
    return None


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not a real password")


def spend_hash_time(password: str) -> None:
    """Check ``password`` against a throwaway hash, so a log-in for an unknown
    phone takes as long as one for a known phone (no enumeration by timing)."""
    check_password_hash(_dummy_hash(), password)
