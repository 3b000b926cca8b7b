"""Write core's zh_CN catalog from the extracted template (one-off helper).

Usage: pybabel extract -F babel.cfg -o core/translations/messages.pot core
       python scripts/translate_core.py && pybabel compile -d core/translations
"""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

ZH = {
    "Wrong phone number or password": "手机号或密码错误",
    "Welcome, %(name)s!": "欢迎，%(name)s！",
    "Organization created": "已创建组织",
    "Member added": "已添加成员",
    "Member removed": "已移除成员",
    "Plugin setting saved": "功能开关已保存",
    "Jindou": "金豆",
    "Log out": "退出",
    "Home": "首页",
    "Log in": "登录",
    "Mobile number": "手机号",
    "Password": "密码",
    "No account yet?": "还没有账号？",
    "Register": "注册",
    "Register as a volunteer": "注册成为志愿者",
    "Name": "姓名",
    "Password (at least 8 characters)": "密码（至少 8 位）",
    "I already have an account": "我已有账号，去登录",
    "Back to home": "返回首页",
    "Hello, %(name)s": "您好，%(name)s",
    "My organizations": "我的组织",
    "Districts": "区",
    "Add a district": "添加区",
    "Below this organization": "下级组织",
    "Nothing yet.": "暂无。",
    "Add a %(level)s": "添加%(level)s",
    "Add": "添加",
    "Members": "成员",
    "Remove": "移除",
    "No members yet.": "暂无成员。",
    "Add a member by mobile number": "按手机号添加成员",
    "Role": "角色",
    "Add member": "添加成员",
    "Features here": "本级功能",
    "On": "开",
    "Off": "关",
    "Monthly report": "月度报表",
    "Plugin switches": "功能开关",
    "Month": "月份",
    "Show": "查看",
    "No feature here reports anything for this month.": "本月暂无报表内容。",
    "A switch applies to the organization and everything below it, unless something below sets its own.":
        "开关作用于本组织及其所有下级，除非下级另行设置。",
    "Organization": "组织",
    "set here": "本级设置",
    "from %(name)s": "来自 %(name)s",
    "not set anywhere": "未设置",
    "Turn on": "开启",
    "Turn off": "关闭",
    "Inherit": "继承上级",
    "Settings": "设置",
    "%(plugin)s settings": "%(plugin)s设置",
    "Settings apply here and below, unless something below sets its own.":
        "设置适用于本级及所有下级，下级另有设置的除外。",
    "This feature is off here; its settings apply once it is switched on.":
        "此功能在本级尚未开启；开启后这些设置即生效。",
    "none": "无",
    "Yes": "是",
    "No": "否",
    "Empty means: none": "留空表示：无",
    "In force: %(value)s": "当前生效：%(value)s",
    "Set at this level": "本级设置",
    "Inherited from %(name)s": "继承自 %(name)s",
    "Default value": "默认值",
    "Restore inheritance": "恢复继承",
    "Save settings": "保存设置",
    "Settings saved": "设置已保存",
    "The setting inherits again": "已恢复继承",
    "Change password": "修改密码",
    "Current password": "原密码",
    "New password (at least 8 characters)": "新密码（至少 8 位）",
    "Not a common password, not your mobile number, not one character repeated. Other devices will be logged out.":
        "不能是常见密码、手机号或同一字符的重复。修改后其他设备将退出登录。",
    "Password changed. Other devices have been logged out.": "密码已修改，其他设备已退出登录。",
    "Reset password": "重置密码",
    "Get a 6-digit reset code at your community service desk; it is valid for 30 minutes.":
        "请到社区服务台领取 6 位重置码，30 分钟内有效。",
    "Reset code": "重置码",
    "Back to log in": "返回登录",
    "Password reset. Please log in with the new password.": "密码已重置，请用新密码登录。",
    "Forgot your password? Get a reset code at your community service desk":
        "忘记密码？请到社区服务台领取重置码",
    "Resident registered": "居民已登记",
    "Profile saved": "档案已保存",
    "Relative linked": "已登记家属",
    "Relative removed": "已移除家属",
    "Card issued": "服务卡已制好",
    "Cards issued": "服务卡已制好",
    "My family": "我的家人",
    "No phone": "无手机",
    "Resident desk": "居民登记与服务卡",
    "Print cards": "打印服务卡",
    "%(count)s residents here have no card yet.": "本级有 %(count)s 位居民还没有服务卡。",
    "Issue their cards": "为他们制卡",
    "Print": "打印",
    "No card yet.": "还没有服务卡。",
    "Service card: show it at the counter, or read out the 8 digits.":
        "服务卡：在窗口出示，或念出 8 位数字。",
    "Register a resident": "登记居民",
    "For elders without a smartphone: no phone or password needed. A printed card and relatives stand in.":
        "适用于没有智能手机的老人：无需手机号和密码，由服务卡和家属代为使用。",
    "Birth date": "出生日期",
    "Mobile number (optional)": "手机号（可不填）",
    "In hardship": "困难对象",
    "Hardship category": "困难类别",
    "None": "无",
    "Residents here": "本级居民",
    "%(age)s years": "%(age)s 岁",
    "Card": "已制卡",
    "Show this code at the counter for %(name)s, or read out the 8 digits.":
        "在窗口为%(name)s出示此码，或念出 8 位数字。",
    "Profile": "档案",
    "Nobody yet. Community staff can link you to an elder of your family with your mobile number.":
        "暂无。社区工作人员可按您的手机号把您登记为家中老人的家属。",
    "Resident profile": "居民档案",
    "Save profile": "保存档案",
    "Relatives": "家属",
    "Link a relative by mobile number (they may act for this person)":
        "按手机号登记家属（家属可代其办理）",
    "Link relative": "登记家属",
    "Printed card": "服务卡",
    "Card issued on %(day)s.": "服务卡制于 %(day)s。",
    "Print the card": "打印服务卡",
    "Reissue the card (the old one stops working)": "补办服务卡（旧卡作废）",
    "Issue a card": "制作服务卡",
    "Request sent. Staff of %(name)s will confirm it.": "申请已提交，请等待%(name)s的工作人员确认。",
    "Approved: now a resident": "已同意，此人已成为居民",
    "Request rejected": "已拒绝该申请",
    "Turn off %(plugin)s?": "关闭%(plugin)s？",
    "Turn off %(plugin)s at %(org)s?": "确定在%(org)s关闭「%(plugin)s」吗？",
    "%(count)d organizations below follow this switch and will lose it too. Nothing is deleted; switching it on again brings everything back.":
        "下级共有 %(count)d 个组织跟随这个开关，也会一起关闭。数据不会删除，重新开启即可恢复。",
    "Yes, turn it off": "确定关闭",
    "No, go back": "不关闭，返回",
    "Password reset code": "发密码重置码",
    "Reset code for %(name)s": "%(name)s的密码重置码",
    "Valid until %(time)s, once.": "%(time)s前有效，只能用一次。",
    "Tell the code to %(name)s. On the log-in page they tap “Forgot your password”, enter their mobile number, this code and a new password.":
        "请把重置码告诉%(name)s：在登录页点“忘记密码”，输入手机号、这个重置码和新密码。",
    "Done": "完成",
    "You are not in any organization yet. Choose your building and ask to join; staff there confirm.":
        "您还没有加入任何组织。请选择您住的楼栋并申请加入，工作人员确认后即可。",
    "Waiting for staff to confirm": "等待工作人员确认",
    "Waiting": "等待确认",
    "Join a building": "加入我的楼栋",
    "Join code": "加入码",
    "Scan to join %(name)s": "扫码加入%(name)s",
    "Join code of %(name)s": "%(name)s的加入码",
    "Scan with the phone camera or WeChat, log in or register, then tap the button. Staff confirm the request.":
        "用手机相机或微信扫码，登录或注册后点按钮申请，工作人员确认后即加入。",
    "Print this page and put it up at the entrance. The code does not expire.":
        "请打印本页，贴在楼栋门口。这个码长期有效。",
    "Join your building": "加入我的楼栋",
    "Where you are": "当前位置",
    "Start again": "重新选择",
    "Choose your %(level)s": "请选择您的%(level)s",
    "Tap your place; you can go back with the links above.": "点一下您所在的地方；选错了可以点上面的名字返回。",
    "Join %(name)s": "加入%(name)s",
    "No place has been set up yet.": "还没有设置任何组织。",
    "Ask to join %(name)s": "申请加入%(name)s",
    "Your building is not in the list?": "列表里没有您的楼栋？",
    "Staff there will check and confirm. You will see the place on your home page afterwards.":
        "工作人员核实后确认，确认后您会在首页看到它。",
    "Requests to join": "加入申请",
    "Back": "返回",
    "People who asked to become residents here or below. Check they live there before approving.":
        "以下是申请成为本级或下级居民的人。请核实对方确实住在那里再同意。",
    "wants to join %(name)s": "申请加入%(name)s",
    "Approve": "同意",
    "Reject": "拒绝",
    "Reject the request of %(name)s to join %(place)s?": "确定拒绝%(name)s加入%(place)s的申请吗？",
    "Yes, reject": "确定拒绝",
    "No requests waiting.": "没有待确认的申请。",
    "Next page": "下一页",
    "Requests to join waiting: %(count)d": "待确认的加入申请：%(count)d 条",
    "Find a member by name or mobile number": "按姓名或手机号查找成员",
    "Find": "查找",
    "Show all": "显示全部",
    "Remove %(name)s (%(role)s) from %(org)s?": "确定把%(name)s（%(role)s）从%(org)s移除吗？",
    "Yes, remove": "确定移除",
    "No members found.": "没有找到成员。",
    "Add a resident": "添加居民",
    "Mobile number of the person (registered already)": "对方的手机号（需已注册）",
    "Print the join code of %(name)s": "打印%(name)s的加入码",
    "Please confirm the removal": "请再点一次“确定移除”",
    "Large text": "大字",
    "Normal text": "标准字",
    "Main menu": "主菜单",
}

root = Path(__file__).resolve().parent.parent / "core" / "translations"
with open(root / "messages.pot", "rb") as f:
    catalog = read_po(f, locale="zh")
catalog.fuzzy = False
missing = []
for message in catalog:
    if message.id:
        message.string = ZH.get(message.id, "")
        if not message.string:
            missing.append(message.id)
target = root / "zh" / "LC_MESSAGES"  # "zh": found for zh_CN and zh_Hans_CN alike
target.mkdir(parents=True, exist_ok=True)
with open(target / "messages.po", "wb") as f:
    write_po(f, catalog, width=100)
if missing:
    raise SystemExit(f"untranslated: {missing}")
