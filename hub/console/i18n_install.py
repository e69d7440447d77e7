"""The installer's page's words (issue 15), Chinese and English; merged into the console's
catalogue (hub.console.i18n)."""

from __future__ import annotations

# key: (English, Chinese)
INSTALL_MESSAGES: dict[str, tuple[str, str]] = {
    "nav.installation": ("Installation", "安装调试"),
    "install.title": ("Installation", "安装调试"),
    "install.hint": (("Add the building's edge, then its serial lines, doors with their readers "
                      "and Modbus devices. Each change goes into the edge's configuration."),
                     "先添加楼栋的边缘网关，再添加串口总线、门及其读头、Modbus 设备。每次修改都会编入网关的配置。"),
    "install.building": ("Building", "楼栋"),
    "install.edge": ("Edge", "边缘网关"),
    "install.edges": ("Edges", "边缘网关"),
    "install.lines": ("Serial lines", "串口总线"),
    "install.doors": ("Doors and readers", "门与读头"),
    "install.devices": ("Modbus devices", "Modbus 设备"),
    "install.add": ("Add", "添加"),
    "install.save": ("Save", "保存"),
    "install.edit": ("Edit", "编辑"),
    "install.delete": ("Delete", "删除"),
    "install.cancel": ("Cancel", "取消"),
    "install.confirm_delete": ("Delete {what}?", "确定删除 {what}？"),
    "install.saved": ("Saved.", "已保存。"),
    "install.deleted": ("Deleted.", "已删除。"),
    "install.no_edge": ("Choose or add an edge first.", "请先选择或添加边缘网关。"),
    "install.provision": ("Provision the box with: {cmd}", "在网关上执行：{cmd}"),
    "install.commissioned": ("own key", "已配专用密钥"),
    "install.install_key": ("install key", "出厂密钥"),
    "install.field.name": ("Name (id)", "名称（编号）"),
    "install.field.label": ("Label", "显示名称"),
    "install.field.port": ("Serial port", "串口"),
    "install.field.protocol": ("Protocol", "协议"),
    "install.field.baudrate": ("Baud rate", "波特率"),
    "install.field.parity": ("Parity", "校验位"),
    "install.field.stopbits": ("Stop bits", "停止位"),
    "install.field.line_id": ("Line", "总线"),
    "install.field.reader_address": ("Reader address (0–126)", "读头地址（0–126）"),
    "install.field.relay_output": ("Lock relay output", "门锁继电器输出"),
    "install.field.contact_input": ("Door contact input", "门磁输入"),
    "install.field.rex_input": ("Exit button input", "出门按钮输入"),
    "install.field.fail_safe_egress": ("Release on fire alarm", "火警时释放"),
    "install.field.unlock_s": ("Unlock time (s)", "开锁时长（秒）"),
    "install.field.held_open_s": ("Held-open alarm after (s)", "超时未关报警（秒）"),
    "install.field.model": ("Model", "型号"),
    "install.field.transport": ("Transport", "通信方式"),
    "install.field.unit_id": ("Unit id (1–247)", "从站地址（1–247）"),
    "install.field.host": ("Host (TCP)", "地址（TCP）"),
    "install.field.tcp_port": ("TCP port", "TCP 端口"),
    "install.field.poll_interval_s": ("Poll every (s)", "轮询间隔（秒）"),
    "install.field.reader": ("Reader", "读头"),
    "install.field.status": ("Status", "状态"),
    "install.field.none": ("—", "—"),
    # the reader's commissioning and the residents' PINs (issue 15 points 3 and 4)
    "install.install_mode": ("Install mode", "安装模式"),
    "install.rotate_key": ("New key", "更换密钥"),
    "install.reason_prompt": ("Why? (kept in the log)", "原因（记入日志）："),
    "install.reason_install": ("reader commissioning", "读头调试"),
    "install.reason_rotate": ("reader key rotation", "读头密钥轮换"),
    "install.install_sent": (
        ("{door}: install mode for {minutes} min. Power the new reader on the line: the edge "
         "gives it its own key."),
        "{door}：安装模式 {minutes} 分钟。请给新读头上电，网关会为其设置专用密钥。"),
    "install.rotate_sent": ("{door}: a new key is being set on the reader.",
                            "{door}：正在为读头设置新密钥。"),
    # an edge that refuses the hub's configurations (the hub's database restored from a backup)
    "install.reset_config": ("Reset configuration", "重置配置"),
    "install.reset_config_title": (
        ("Reset {edge}'s configuration? The edge drops the version it runs and takes the hub's "
         "current configuration (use it after the hub's database was restored from a backup)."),
        "确定重置 {edge} 的配置？网关将放弃当前运行的版本，改用中心当前的配置（用于中心数据库从备份恢复之后）。"),
    "install.reset_config_reason": ("Reason (required, kept in the log)", "原因（必填，记入日志）"),
    "install.reset_waiting": ("{edge}: reset sent; waiting for the edge's answer…",
                              "{edge}：重置指令已发送，等待网关回应…"),
    "install.reset_done": ("done", "已执行"),
    "install.reset_ok": ("{edge} takes the hub's current configuration again.",
                         "{edge} 已接受重置，将重新采用中心当前的配置。"),
    "install.reset_unsent": ("{edge}: not sent (the broker refused it); try again.",
                             "{edge}：未发出（消息服务器拒绝），请重试。"),
    "install.reset_not_taken": ("{edge} did not take the reset.", "{edge} 未执行重置。"),
    "install.reset_refused": ("{edge}: reset refused: {reason}", "{edge}：重置被拒绝：{reason}"),
    "install.pins": ("Residents' PINs (card + PIN doors)", "住户密码（刷卡+密码门）"),
    "install.pin_hint": (("A PIN is 4 to 8 digits, kept hashed; the duress PIN opens the door "
                          "and silently alerts the guards."),
                         "密码为 4 至 8 位数字，仅保存散列值；胁迫密码可开门并静默通知保安。"),
    "install.field.resident": ("Resident", "住户"),
    "install.field.pin": ("PIN", "密码"),
    "install.field.duress_pin": ("Duress PIN (optional)", "胁迫密码（可选）"),
    "install.set_pin": ("Set PIN", "设置密码"),
    "install.pin_saved": ("PIN set for {name}.", "已为 {name} 设置密码。"),
}

__all__ = ["INSTALL_MESSAGES"]
