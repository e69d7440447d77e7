// Guard console: the live access log, buildings with their edges, doors and devices, remote
// door opening and building lockdown (each with a reason), and the commands sent.
"use strict";
(() => {
  const {t, word, el, api, time, pill, statusPill, toast, toastError, askReason, fill, td} = Lintel;
  const MAX_ROWS = 200;
  const accessRows = document.getElementById("access-rows");
  const seen = new Set();
  const residentNames = new Map();

  function residentName(id, cell) {
    if (id === null || id === undefined) { cell.textContent = "—"; return; }
    if (!residentNames.has(id)) {
      residentNames.set(id, api("GET", `/residents/${id}`).then((r) => r.name).catch(() => `#${id}`));
    }
    residentNames.get(id).then((name) => { cell.textContent = name; });
  }

  // The edge cut or escaped what the reader sent: the credential shown is not the one read.
  function malformedMark(note) {
    return note ? [" ", el("span", {class: "pill warn", title: note, "data-testid": "malformed"},
      t("access.malformed"))] : null;
  }

  function accessRow(e, fresh) {
    const who = td(t("access.resident"), "…");
    residentName(e.resident_id, who);
    const result = e.result === "granted"
      ? pill(t("access.granted"), "ok")
      : pill(`${t("access.denied")} · ${word("reason.", e.reason)}`, "bad");
    return el("tr", {class: fresh ? "fresh" : null, dataset: {id: e.id, door: e.door}},
      td(t("common.time"), time(e.ts)),
      td(t("common.door"), e.door),
      td(t("access.credential"), `${word("cred.", e.credential_type)} ${e.credential}`,
        malformedMark(e.malformed)),
      who, td(t("access.result"), result));
  }

  async function loadAccess() {
    const page = await api("GET", "/access-events?limit=50");
    seen.clear();
    page.items.forEach((e) => seen.add(e.id));
    fill(accessRows, page.items, (e) => accessRow(e, false));
  }

  function pushAccess(e) {
    if (seen.has(e.id)) return;
    seen.add(e.id);
    if (accessRows.querySelector("td.empty")) accessRows.replaceChildren();
    accessRows.prepend(accessRow(e, true));
    while (accessRows.children.length > MAX_ROWS) accessRows.lastElementChild.remove();
  }

  async function command(path, title, done) {
    const reason = await askReason(title);
    if (!reason) return;
    try {
      const sent = await api("POST", path, {reason});
      toast(done(sent));
      await loadCommands();
      setTimeout(() => loadCommands().catch(toastError), 1500);  // the edge's answer
    } catch (error) { toastError(error); }
  }

  function doorItem(door) {
    return el("li", {dataset: {door: door.name}},
      el("div", {class: "grow"}, el("div", {}, door.label || door.name),
        el("div", {class: "sub"}, door.name)),
      door.mode !== "normal" ? pill(word("mode.", door.mode), "bad") : null,
      el("button", {class: "small", "data-testid": `open-${door.name}`,
        onclick: () => command(`/doors/${door.id}/unlock`, t("guard.open_title", {door: door.label || door.name}),
          () => t("guard.opened", {door: door.label || door.name}))}, t("guard.open")));
  }

  function deviceItem(device) {
    return el("li", {dataset: {device: device.name}},
      el("div", {class: "grow"}, el("div", {}, device.name),
        el("div", {class: "sub"}, `${word("device.", device.device_type)} · ${device.model}`)),
      device.open_faults ? pill(t("guard.open_faults", {n: device.open_faults}), "bad") : null,
      statusPill(device.status));
  }

  function edgeBlock(edge, doors, devices) {
    const since = edge.last_seen ? `${t("guard.last_seen")} ${time(edge.last_seen)}` : "";
    const version = edge.perm_version_held ? t("guard.perm_version", {version: edge.perm_version_held}) : "";
    return el("div", {dataset: {edge: edge.name}},
      el("div", {class: "edge-line"}, `${t("guard.edge")} ${edge.name} · `, statusPill(edge.status),
        ` ${since} ${version ? "· " + version : ""}`),
      el("div", {class: "actions"},
        el("button", {class: "small danger", "data-testid": `lockdown-${edge.name}`,
          onclick: () => command(`/edges/${edge.id}/lockdown`, t("guard.lockdown_title", {edge: edge.name}),
            () => t("guard.command_sent", {command: t("guard.lockdown")}))}, t("guard.lockdown")),
        el("button", {class: "small",
          onclick: () => command(`/edges/${edge.id}/release`, t("guard.release_title", {edge: edge.name}),
            () => t("guard.command_sent", {command: t("guard.release")}))}, t("guard.release"))),
      el("ul", {class: "row-list"}, doors.map(doorItem), devices.map(deviceItem)));
  }

  async function loadBuildings() {
    const [buildings, edges, doors, devices] = await Promise.all(
      ["/buildings", "/edges", "/doors", "/devices"].map((p) => api("GET", p)));
    const box = document.getElementById("buildings");
    const groups = new Map(buildings.items.map((b) => [b.id, {building: b, edges: []}]));
    const loose = {building: null, edges: []};
    for (const edge of edges.items) (groups.get(edge.building_id) || loose).edges.push(edge);
    const blocks = [];
    for (const {building, edges: own} of [...groups.values(), loose]) {
      if (!own.length) continue;
      const online = own.filter((e) => e.status === "online").length;
      blocks.push(el("div", {class: "building", dataset: {building: building ? building.code : ""}},
        el("div", {class: "building-head"},
          el("h3", {}, building ? `${building.name} (${building.code})` : t("guard.no_building")),
          pill(`${online}/${own.length} ${t("status.online")}`, online === own.length ? "ok" : "bad")),
        own.map((edge) => edgeBlock(edge,
          doors.items.filter((d) => d.edge_id === edge.id),
          devices.items.filter((d) => d.edge === edge.name && d.site === edge.site_id)))));
    }
    box.replaceChildren(...(blocks.length ? blocks : [el("p", {class: "muted"}, t("common.none"))]));
  }

  async function loadCommands() {
    const list = await api("GET", "/commands?limit=8");
    fill(document.getElementById("command-rows"), list.items, (c) => el("tr", {},
      td(t("common.time"), time(c.issued_at)),
      td(t("guard.command"), `${word("command.", c.command)}${c.door ? " · " + c.door : ""}`),
      td(t("common.reason"), c.reason), td(t("guard.issued_by"), c.issued_by),
      td(t("common.status"), statusPill(c.status))));
  }

  // --- alarms: the open ones, worst first; acknowledge and clear with an optional note ---
  const openAlarms = new Map();
  const RANK = {critical: 0, major: 1, minor: 2, info: 3};

  function alarmItem(a) {
    const what = word("alarm.", a.type);
    const where = [a.door, a.device, a.edge].filter(Boolean)[0] ?? "";
    const act = (action, title) => async () => {
      const note = await askReason(title, {label: t("alarms.note_prompt"), optional: true});
      if (note === null) return;
      try {
        pushAlarm({alarm: await api("POST", `/alarms/${a.id}/${action}`, {note: note || null})});
      } catch (error) { toastError(error); }
    };
    return el("li", {class: `alarm ${a.severity} ${a.state}`, dataset: {alarm: a.id, type: a.type}},
      el("div", {class: "bar"}),
      el("div", {},
        el("div", {class: "what"}, what, pill(word("severity.", a.severity), a.severity === "minor" ? "warn" : "bad"),
          pill(word("state.", a.state), a.state === "active" ? "bad" : "info"),
          a.count > 1 ? el("span", {class: "muted small"}, t("alarms.times", {n: a.count})) : null),
        el("div", {class: "msg"}, `${a.message} · ${where ? where + " · " : ""}${time(a.last_seen)}`,
          a.acknowledged_by ? ` · ${t("alarms.acknowledged_by", {who: a.acknowledged_by})}` : "")),
      el("div", {class: "actions"},
        a.snapshot_url ? el("a", {href: a.snapshot_url, target: "_blank", title: t("alarms.snapshot")},
          el("img", {src: a.snapshot_url, alt: t("alarms.snapshot")})) : null,
        a.state === "active" ? el("button", {class: "small primary", "data-testid": `ack-${a.id}`,
          onclick: act("acknowledge", t("alarms.ack_title", {what}))}, t("alarms.acknowledge")) : null,
        el("button", {class: "small", "data-testid": `clear-${a.id}`,
          onclick: act("clear", t("alarms.clear_title", {what}))}, t("alarms.clear"))));
  }

  function renderAlarms() {
    const items = [...openAlarms.values()].sort((x, y) =>
      (x.state === "active" ? 0 : 1) - (y.state === "active" ? 0 : 1)
      || (RANK[x.severity] ?? 9) - (RANK[y.severity] ?? 9)
      || y.last_seen.localeCompare(x.last_seen));
    document.getElementById("alarm-count").textContent = items.length || "";
    document.getElementById("alarm-list").replaceChildren(...(items.length ? items.map(alarmItem)
      : [el("li", {class: "muted"}, t("alarms.none"))]));
  }

  function pushAlarm(message) {
    const a = message.alarm;
    if (!a) return;  // a comment: nothing shown here
    if (a.state === "cleared") openAlarms.delete(a.id); else openAlarms.set(a.id, a);
    renderAlarms();
  }

  async function loadAlarms() {
    const page = await api("GET", "/alarms?open=true&limit=100");
    openAlarms.clear();
    for (const a of page.items) openAlarms.set(a.id, a);
    renderAlarms();
  }

  // --- camera alerts with their snapshots (uploaded by the edge a moment after the alert) ---
  const MAX_SHOTS = 12;

  function shot(c) {
    const url = c.snapshot_url ?? (c.snapshot_id ? `/api/v1/snapshots/${c.snapshot_id}` : null);
    const none = () => el("div", {class: "noimg"}, t("camera.no_snapshot"));
    let media = none();
    if (url) {
      let tries = 0;
      media = el("img", {src: url, alt: c.camera, loading: "lazy"});
      media.addEventListener("error", () => {
        if (++tries <= 3) setTimeout(() => { media.src = `${url}?retry=${tries}`; }, 2000 * tries);
        else media.replaceWith(none());
      });
      media = el("a", {href: url, target: "_blank"}, media);
    }
    return el("div", {class: "shot", dataset: {alert: c.id}}, media,
      el("div", {class: "cap"}, el("div", {}, `${c.camera} · ${word("camera.", c.event)}`),
        el("div", {class: "sub"}, `${time(c.ts)}${c.zone ? " · " + t("camera.zone", {zone: c.zone}) : ""}`)));
  }

  async function loadCamera() {
    const page = await api("GET", `/camera-alerts?limit=${MAX_SHOTS}`);
    const box = document.getElementById("camera-list");
    box.replaceChildren(...(page.items.length ? page.items.map(shot) : [el("span", {class: "muted"}, t("common.none"))]));
  }

  function pushCamera(c) {
    const box = document.getElementById("camera-list");
    if (box.querySelector(`[data-alert="${c.id}"]`)) return;
    if (!box.querySelector(".shot")) box.replaceChildren();
    box.prepend(shot(c));
    while (box.children.length > MAX_SHOTS) box.lastElementChild.remove();
  }

  const reloadBuildings = Lintel.debounce(() => loadBuildings().catch(toastError), 300);
  Lintel.live(
    {access: pushAccess, devices: reloadBuildings, edges: reloadBuildings, door: reloadBuildings,
      alarms: pushAlarm, camera: pushCamera},
    () => Promise.all([loadAlarms(), loadAccess(), loadBuildings(), loadCommands(), loadCamera()])
      .catch(toastError));
})();
