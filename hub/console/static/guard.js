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

  function accessRow(e, fresh) {
    const who = td(t("access.resident"), "…");
    residentName(e.resident_id, who);
    const result = e.result === "granted"
      ? pill(t("access.granted"), "ok")
      : pill(`${t("access.denied")} · ${word("reason.", e.reason)}`, "bad");
    return el("tr", {class: fresh ? "fresh" : null, dataset: {id: e.id, door: e.door}},
      td(t("common.time"), time(e.ts)),
      td(t("common.door"), e.door),
      td(t("access.credential"), `${word("cred.", e.credential_type)} ${e.credential}`),
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
        el("div", {class: "sub"}, `${device.device_type} · ${device.model}`)),
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
      td(t("guard.command"), `${c.command}${c.door ? " · " + c.door : ""}`),
      td(t("common.reason"), c.reason), td(t("guard.issued_by"), c.issued_by),
      td(t("common.status"), statusPill(c.status))));
  }

  const reloadBuildings = Lintel.debounce(() => loadBuildings().catch(toastError), 300);
  Lintel.live(
    {access: pushAccess, devices: reloadBuildings, edges: reloadBuildings, door: reloadBuildings},
    () => Promise.all([loadAccess(), loadBuildings(), loadCommands()]).catch(toastError));
})();
