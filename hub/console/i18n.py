"""The console's message catalogue, Chinese and English, and the choice of language.

Every visible string of the console is a key here; `t()` refuses an unknown key, so a page
that names a missing message fails its test instead of showing a raw key to a person.
"""

from __future__ import annotations

from aiohttp import web

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "lintel_lang"

# key: (English, Chinese)
_CATALOGUE: dict[str, tuple[str, str]] = {
    # frame
    "app.name": ("Lintel", "Lintel 门禁"),
    "app.tagline": ("Access control and building devices", "门禁与楼宇设备管理"),
    "nav.guard": ("Guard console", "安保监控"),
    "nav.desk": ("Visitor desk", "访客登记"),
    "nav.tech": ("My work orders", "我的工单"),
    "nav.tech_devices": ("Device faults", "设备故障"),
    "nav.manage": ("Overview", "总览"),
    "nav.residents": ("Residents & units", "住户与房屋"),
    "nav.cards": ("Cards & groups", "门卡与权限组"),
    "nav.passes": ("Visitor passes", "访客通行证"),
    "nav.devices": ("Devices", "设备"),
    "nav.equipment": ("Equipment ledger", "设备台账"),
    "nav.notices": ("Notices", "通知公告"),
    "nav.reports": ("Reports", "报表"),
    "nav.alarms": ("Alarms", "报警"),
    "nav.me": ("My door code", "我的开门码"),
    "nav.my_passes": ("My visitors", "我的访客"),
    "nav.my_repairs": ("My repairs", "我的报修"),
    "nav.my_notices": ("Notices", "通知公告"),
    "nav.logout": ("Log out", "退出登录"),
    "nav.menu": ("Menu", "菜单"),
    "lang.switch": ("中文", "English"),
    "role.admin": ("Administrator", "管理员"),
    "role.manager": ("Property manager", "物业经理"),
    "role.guard": ("Security guard", "保安"),
    "role.technician": ("Technician", "维修技师"),
    "role.resident": ("Resident", "住户"),
    # login
    "login.title": ("Sign in", "登录"),
    "login.username": ("Username", "用户名"),
    "login.password": ("Password", "密码"),
    "login.submit": ("Sign in", "登录"),
    "login.failed": ("Wrong username or password.", "用户名或密码错误。"),
    "login.logged_out": ("You have signed out.", "您已退出登录。"),
    # forbidden / errors
    "forbidden.title": ("Not allowed", "无权访问"),
    "forbidden.text": (
        "Your role ({role}) may not open this page. If you need it, ask your property manager.",
        "您的角色（{role}）无权打开此页面。如有需要，请联系物业经理。",
    ),
    "forbidden.home": ("Back to my home page", "返回我的首页"),
    "notfound.title": ("Page not found", "页面不存在"),
    "error.network": ("The hub cannot be reached; retrying…", "无法连接服务器，正在重试…"),
    "error.generic": ("Something went wrong: {detail}", "操作失败：{detail}"),
    # common words
    "common.loading": ("Loading…", "加载中…"),
    "common.none": ("Nothing here yet.", "暂无数据。"),
    "common.cancel": ("Cancel", "取消"),
    "common.confirm": ("Confirm", "确认"),
    "common.save": ("Save", "保存"),
    "common.close": ("Close", "关闭"),
    "common.refresh": ("Refresh", "刷新"),
    "common.actions": ("Actions", "操作"),
    "common.status": ("Status", "状态"),
    "common.name": ("Name", "名称"),
    "common.time": ("Time", "时间"),
    "common.reason": ("Reason", "原因"),
    "common.reason_prompt": ("Reason (kept in the log)", "原因（将记录在日志中）"),
    "common.building": ("Building", "楼栋"),
    "common.unit": ("Unit", "房屋"),
    "common.door": ("Door", "门"),
    "common.doors": ("Doors", "门"),
    "common.phone": ("Phone", "电话"),
    "common.yes": ("Yes", "是"),
    "common.no": ("No", "否"),
    "common.all": ("All", "全部"),
    "common.done": ("Done.", "已完成。"),
    "common.copy": ("Copy link", "复制链接"),
    "common.copied": ("Link copied.", "链接已复制。"),
    "common.share": ("Share", "分享"),
    "common.revoke": ("Revoke", "作废"),
    "common.revoke_confirm": ("Revoke this pass? The doors will refuse it.",
                              "确定作废此通行证？门禁将拒绝它。"),
    "common.created_at": ("Created", "创建时间"),
    "common.detail": ("Details", "详情"),
    "common.type": ("Type", "类型"),
    "common.site": ("Site", "小区"),
    "common.count": ("Count", "数量"),
    "live.connected": ("Live", "实时"),
    "live.reconnecting": ("Reconnecting…", "重新连接中…"),
    # guard console
    "guard.title": ("Guard console", "安保监控台"),
    "guard.access_log": ("Live access log", "实时通行记录"),
    "guard.buildings": ("Buildings, doors and devices", "楼栋、门禁与设备"),
    "guard.commands": ("Recent remote commands", "最近的远程操作"),
    "guard.open": ("Open", "开门"),
    "guard.open_title": ("Open {door} remotely", "远程开启 {door}"),
    "guard.opened": ("Open command sent to {door}.", "已向 {door} 发送开门指令。"),
    "guard.lockdown": ("Lock down", "封锁"),
    "guard.release": ("Release", "解除封锁"),
    "guard.lockdown_title": ("Lock down every door of {edge}", "封锁 {edge} 的所有门"),
    "guard.release_title": ("End the lockdown of {edge}", "解除 {edge} 的封锁"),
    "guard.command_sent": ("Command sent: {command}.", "指令已发送：{command}。"),
    "guard.no_building": ("No building", "未分配楼栋"),
    "guard.edge": ("Edge gateway", "边缘网关"),
    "guard.last_seen": ("Last seen", "最后在线"),
    "guard.perm_version": ("Permissions v{version}", "权限版本 {version}"),
    "guard.devices": ("Devices", "设备"),
    "guard.open_faults": ("{n} open faults", "{n} 个未处理故障"),
    "guard.issued_by": ("By", "操作人"),
    "guard.command": ("Command", "指令"),
    "guard.answer": ("Answer", "回执"),
    "access.credential": ("Credential", "凭证"),
    "access.resident": ("Resident", "住户"),
    "access.result": ("Result", "结果"),
    "access.granted": ("Granted", "允许"),
    "access.denied": ("Denied", "拒绝"),
    "reason.granted": ("granted", "允许"),
    "reason.unknown_card": ("unknown card", "未登记的卡"),
    "reason.revoked": ("revoked", "已作废"),
    "reason.lost": ("reported lost", "已挂失"),
    "reason.suspended": ("suspended", "已停用"),
    "reason.expired": ("expired", "已过期"),
    "reason.not_yet_valid": ("not yet valid", "未生效"),
    "reason.outside_schedule": ("outside its schedule", "不在通行时段"),
    "reason.not_permitted": ("not permitted at this door", "无此门权限"),
    "reason.door_locked_down": ("door locked down", "门已封锁"),
    "reason.unknown_door": ("unknown door", "未知的门"),
    "reason.anti_passback": ("anti-passback", "防潜回"),
    "reason.holiday": ("closed on holidays", "节假日禁止通行"),
    "reason.malformed_token": ("unreadable code", "无法识别的码"),
    "reason.bad_signature": ("forged code", "签名无效"),
    "reason.token_expired": ("code expired", "码已过期"),
    "reason.token_not_yet_valid": ("code not yet valid", "码未生效"),
    "reason.replayed": ("code used again", "码被重复使用"),
    "reason.unknown_key": ("unknown phone key", "未知的手机密钥"),
    "reason.stale_challenge": ("stale Bluetooth challenge", "蓝牙验证超时"),
    "reason.unknown_pass": ("unknown visitor pass", "未知的访客码"),
    "reason.pass_expired": ("visitor pass expired", "访客码已过期"),
    "reason.pass_used_up": ("visitor pass used up", "访客码次数已用完"),
    "reason.pass_revoked": ("visitor pass revoked", "访客码已作废"),
    "cred.card": ("Card", "门卡"),
    "cred.qr": ("QR code", "二维码"),
    "cred.visitor_pass": ("Visitor pass", "访客码"),
    "cred.ble": ("Bluetooth", "蓝牙"),
    "cred.pin": ("PIN", "密码"),
    "status.online": ("Online", "在线"),
    "status.offline": ("Offline", "离线"),
    "status.unknown": ("Unknown", "未知"),
    "status.ok": ("OK", "正常"),
    "status.fault": ("Fault", "故障"),
    "status.sent": ("Sent", "已发送"),
    "status.failed": ("Failed", "失败"),
    "status.rejected": ("Rejected", "被拒绝"),
    "status.unsent": ("Not sent", "未发送"),
    "status.active": ("Active", "有效"),
    "status.revoked": ("Revoked", "已作废"),
    "status.expired": ("Expired", "已过期"),
    "status.lost": ("Lost", "挂失"),
    "status.suspended": ("Suspended", "已停用"),
    "status.not_yet_valid": ("Not yet valid", "未生效"),
    "status.used_up": ("Used up", "已用完"),
    "status.vacant": ("Vacant", "空置"),
    "status.occupied": ("Occupied", "自住"),
    "status.rented": ("Rented", "出租"),
    "mode.normal": ("Normal", "正常"),
    "mode.locked_down": ("Locked down", "已封锁"),
    # visitor passes
    "pass.issue": ("Issue a visitor pass", "登记访客通行证"),
    "pass.visitor_name": ("Visitor's name", "访客姓名"),
    "pass.visitor_phone": ("Visitor's phone", "访客电话"),
    "pass.host_unit": ("Host unit", "被访房屋"),
    "pass.valid_for": ("Valid for", "有效时长"),
    "pass.hours": ("{n} hours", "{n} 小时"),
    "pass.days": ("{n} days", "{n} 天"),
    "pass.max_uses": ("Uses allowed", "可用次数"),
    "pass.submit": ("Issue pass", "生成通行证"),
    "pass.issued": ("Pass issued for {name}.", "已为 {name} 生成通行证。"),
    "pass.qr_hint": ("Show this code at the door's reader.", "请在门口读头处出示此二维码。"),
    "pass.share_hint": ("Send the visitor this link; it shows the code without a login.",
                        "将此链接发给访客，无需登录即可显示二维码。"),
    "pass.list": ("Visitor passes", "访客通行证"),
    "pass.valid_until": ("Valid until", "有效期至"),
    "pass.uses": ("Uses", "已用次数"),
    "pass.qr": ("QR", "二维码"),
    "pass.revoked": ("Pass revoked.", "通行证已作废。"),
    "pass.pick_door": ("Choose at least one door.", "请至少选择一个门。"),
    # technician
    "tech.title": ("My work orders", "我的工单"),
    "tech.faults": ("Open device faults", "未处理的设备故障"),
    "tech.no_orders": ("No work orders for you. New ones appear here at once.",
                       "暂无工单，新工单会立即显示在这里。"),
    "tech.severity": ("Severity", "严重程度"),
    "tech.skill": ("Skill", "技能"),
    "tech.raised": ("Raised", "发生时间"),
    # manager
    "manage.title": ("Overview", "总览"),
    "manage.residents": ("Residents", "住户"),
    "manage.units": ("Units", "房屋"),
    "manage.cards": ("Cards", "门卡"),
    "manage.groups": ("Access groups", "权限组"),
    "manage.devices": ("Devices", "设备"),
    "manage.edges": ("Edge gateways", "边缘网关"),
    "manage.edges_online": ("Edges online", "在线网关"),
    "manage.open_faults": ("Open faults", "未处理故障"),
    "manage.active_passes": ("Active visitor passes", "有效访客通行证"),
    "manage.events_today": ("Door events in 24 h", "24 小时通行次数"),
    "manage.denied_today": ("Denied in 24 h", "24 小时拒绝次数"),
    "manage.import": ("Import from CSV", "从 CSV 导入"),
    "manage.import_units": ("Units file", "房屋文件"),
    "manage.import_residents": ("Residents file", "住户文件"),
    "manage.dry_run": ("Check only (write nothing)", "仅检查（不写入）"),
    "manage.upload": ("Upload", "上传"),
    "manage.import_ok": ("{rows} rows checked, {created} created.", "已检查 {rows} 行，新建 {created} 条。"),
    "manage.import_checked": ("{rows} rows are fine; nothing was written (check only).",
                              "{rows} 行检查通过；未写入（仅检查）。"),
    "manage.import_bad": ("The file was refused; nothing was written:",
                          "文件未通过检查，未写入任何数据："),
    "manage.line": ("Line", "行"),
    "manage.column": ("Column", "列"),
    "manage.floor": ("Floor", "楼层"),
    "manage.area": ("Area (m²)", "面积（m²）"),
    "manage.resident_type": ("Type", "类型"),
    "manage.id_number": ("ID number", "证件号"),
    "manage.card_number": ("Card number", "卡号"),
    "manage.holder": ("Holder", "持卡人"),
    "manage.validity": ("Valid", "有效期"),
    "manage.schedule": ("Schedule", "时间表"),
    "manage.members": ("Members", "成员"),
    "manage.suspend": ("Suspend", "停用"),
    "manage.activate": ("Activate", "启用"),
    "manage.report_lost": ("Lost", "挂失"),
    "manage.device_type": ("Type", "类型"),
    "manage.model": ("Model", "型号"),
    "manage.perm_version": ("Permissions", "权限版本"),
    "type.owner": ("Owner", "业主"),
    "type.tenant": ("Tenant", "租户"),
    "type.family_member": ("Family", "家属"),
    # reports
    "reports.title": ("Reports", "报表"),
    "reports.traffic": ("Traffic per door per hour (last 24 h)", "各门每小时通行量（近 24 小时）"),
    "reports.traffic_total": ("{n} door events", "共 {n} 次通行"),
    "reports.no_data": ("No data in this period.", "该时段内没有数据。"),
    "reports.hour": ("Hour", "小时"),
    # resident
    "me.title": ("My door code", "我的开门码"),
    "me.hello": ("Hello, {name}", "您好，{name}"),
    "me.qr_hint": ("Hold this code up to the door's reader. It changes every 30 seconds.",
                   "将此二维码对准门口读头即可开门，每 30 秒自动更新。"),
    "me.refresh_in": ("New code in {s} s", "{s} 秒后更新"),
    "me.not_linked": ("This login is not linked to a resident; ask the property office.",
                      "此账号未关联住户，请联系物业。"),
    "me.passes_title": ("My visitors", "我的访客"),
}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {key: en for key, (en, _zh) in _CATALOGUE.items()},
    "zh": {key: zh for key, (_en, zh) in _CATALOGUE.items()},
}


def add_messages(entries: dict[str, tuple[str, str]]) -> None:
    """Add (English, Chinese) messages for pages defined elsewhere; a key may not change."""
    for key, (en, zh) in entries.items():
        if key in _CATALOGUE and _CATALOGUE[key] != (en, zh):
            raise ValueError(f"message {key!r} is already defined differently")
        _CATALOGUE[key] = (en, zh)
        MESSAGES["en"][key], MESSAGES["zh"][key] = en, zh


def translate(lang: str, key: str, **values: object) -> str:
    """The message in `lang`, with `{name}` fields filled; an unknown key is an error."""
    try:
        text = MESSAGES[lang][key]
    except KeyError as exc:
        raise KeyError(f"no {lang!r} message {key!r} in hub/console/i18n.py") from exc
    return text.format(**values) if values else text


def choose_language(request: web.Request) -> str:
    """The cookie set by the language switch, else the first of Accept-Language's languages
    (by q) that the console speaks, else Chinese."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, index, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
