"""Messages of the audit log page and the company admin's role (issue 19). key: (English,
Chinese); hub.console.i18n merges them."""

from __future__ import annotations

AUDIT_MESSAGES: dict[str, tuple[str, str]] = {
    "role.company_admin": ("Company administrator", "公司管理员"),
    "nav.audit": ("Audit log", "操作审计"),
    "audit.title": ("Audit log", "操作审计"),
    "audit.intro": (("Every change made through the hub: who, what, before and after, when "
                     "and from where."),
                    "通过平台所做的每一项修改：操作人、对象、修改前后、时间与来源地址。"),
    "audit.user": ("User", "操作人"),
    "audit.resource": ("Record type", "记录类型"),
    "audit.key": ("Record", "记录编号"),
    "audit.text": ("Text", "关键字"),
    "audit.since": ("From", "开始时间"),
    "audit.until": ("To", "结束时间"),
    "audit.search": ("Search", "查询"),
    "audit.export": ("Export CSV", "导出 CSV"),
    "audit.when": ("When", "时间"),
    "audit.where": ("Site", "小区"),
    "audit.company": ("Company", "公司"),
    "audit.action": ("Action", "操作"),
    "audit.from": ("From address", "来源地址"),
    "audit.change": ("Before → after", "修改前 → 修改后"),
    "audit.none": ("No entries match.", "没有符合条件的记录。"),
    "audit.older": ("Older entries", "更早的记录"),
    "audit.newest": ("Newest", "最新记录"),
    "audit.action.create": ("created", "新增"),
    "audit.action.update": ("changed", "修改"),
    "audit.action.delete": ("removed", "删除"),
    "audit.bad_filter": ("The filter was not understood: {detail}", "筛选条件有误：{detail}"),
}
