// The installer's page: a building's edges, serial lines, doors (with readers) and Modbus
// devices, added, changed and removed through the API (/api/v1/edges, /lines, /doors, /devices);
// a door's reader put in install mode or given a new key (/doors/{id}/install, /rotate-key);
// an edge made to take the hub's configuration again (/edges/{id}/reset-config);
// a resident's PIN set (/residents/{id}/pin).
"use strict";
(() => {
  const {t, el, api, fill, td, toast, toastError, askReason, statusPill} = Lintel;
  const state = {building: null, edge: null, sites: {}, codes: {}, models: [], lines: []};
  // an option without a label shows its value: a code (osdp, rtu, N), not a word to translate
  const opt = (value, label) => ({value, label: label ?? String(value), code: label === undefined});
  const code = (text) => el("span", {translate: "no"}, text);

  // Each part: its API path, the columns shown, and the form's fields.
  const PARTS = {
    edges: {path: "/edges", edgeScoped: false,
      columns: [["name", (e) => e.name], ["label", (e) => e.label || "—"],
        ["status", (e) => Lintel.statusPill(e.status)]],
      fields: () => [{name: "name", required: true, fixed: true}, {name: "label"}],
      actions: (e) => [["install.reset_config", () => resetConfig(e)]],
      body: (v) => ({site_id: state.sites[state.building], building_id: state.building, ...v})},
    lines: {path: "/lines", edgeScoped: true,
      columns: [["name", (x) => x.name], ["port", (x) => x.port], ["protocol", (x) => code(x.protocol)],
        ["baudrate", (x) => code(`${x.baudrate} ${x.parity}${x.stopbits}`)]],
      fields: () => [{name: "name", required: true}, {name: "port", required: true, placeholder: "/dev/ttyUSB0"},
        {name: "protocol", options: [opt("osdp"), opt("modbus")]},
        {name: "baudrate", type: "number", options: [9600, 19200, 38400, 57600, 115200].map((b) => opt(b))},
        {name: "parity", options: [opt("N"), opt("E"), opt("O")]},
        {name: "stopbits", type: "number", options: [opt(1), opt(2)]}, {name: "label"}]},
    doors: {path: "/doors", edgeScoped: true,
      columns: [["name", (d) => d.name], ["label", (d) => d.label || "—"],
        ["reader", (d) => d.line_id ? `${lineName(d.line_id)} #${d.reader_address}` : "—"],
        ["status", (d) => d.line_id ? Lintel.pill(t(d.reader_commissioned ? "install.commissioned" : "install.install_key"),
          d.reader_commissioned ? "ok" : "warn") : "—"]],
      fields: () => [{name: "name", required: true, fixed: true}, {name: "label"},
        {name: "line_id", type: "number", options: [opt("", "—"), ...state.lines.filter((l) => l.protocol === "osdp").map((l) => opt(l.id, l.name))]},
        {name: "reader_address", type: "number", min: 0, max: 126},
        {name: "relay_output", type: "number", min: 0, max: 15, value: 0},
        {name: "contact_input", type: "number", min: 0, max: 15, value: 0},
        {name: "rex_input", type: "number", min: 0, max: 15, value: 1},
        {name: "unlock_s", type: "number", step: "0.5", value: 5},
        {name: "held_open_s", type: "number", value: 30},
        {name: "fail_safe_egress", type: "checkbox"}],
      // a door with a reader: the installer's commissioning at the door
      actions: (d) => d.line_id ? [["install.install_mode", () => readerCommand(d, "install")],
        ["install.rotate_key", () => readerCommand(d, "rotate-key")]] : []},
    devices: {path: "/devices", edgeScoped: true, list: (edge) => `/devices?edge=${encodeURIComponent(edge.name)}`,
      columns: [["name", (d) => d.name], ["model", (d) => d.model],
        ["transport", (d) => d.transport === "tcp" ? code(`tcp ${d.host}:${d.tcp_port}`)
          : d.line_id ? `${lineName(d.line_id)} #${d.unit_id}` : "—"],
        ["status", (d) => Lintel.statusPill(d.status)]],
      fields: () => [{name: "name", required: true, fixed: true}, {name: "label"},
        {name: "model", options: state.models.map((m) => opt(m.model))},
        {name: "transport", options: [opt("rtu"), opt("tcp")]},
        {name: "line_id", type: "number", options: [opt("", "—"), ...state.lines.filter((l) => l.protocol === "modbus").map((l) => opt(l.id, l.name))]},
        {name: "unit_id", type: "number", min: 1, max: 247},
        {name: "host"}, {name: "tcp_port", type: "number", min: 1, max: 65535},
        {name: "poll_interval_s", type: "number", step: "0.1", value: 1}]},
  };
  const editing = {};  // part -> id being edited, or undefined

  function lineName(id) { return state.lines.find((l) => l.id === id)?.name ?? `#${id}`; }
  const field = (name) => t(`install.field.${name}`);

  function input(f, part) {
    const id = `${part}-${f.name}`;
    let control;
    if (f.options) {
      control = el("select", {id, name: f.name}, f.options.map((o) => el("option", {value: o.value, translate: o.code ? "no" : null}, o.label)));
    } else if (f.type === "checkbox") {
      control = el("input", {id, name: f.name, type: "checkbox"});
    } else {
      control = el("input", {id, name: f.name, type: f.type === "number" ? "number" : "text",
        min: f.min, max: f.max, step: f.step, placeholder: f.placeholder, required: f.required});
      if (f.value !== undefined) control.value = f.value;
    }
    control.dataset.kind = f.type || "text";
    const wrap = f.type === "checkbox" ? el("label", {class: "check"}, control, " ", field(f.name))
      : el("label", {}, field(f.name), control);
    wrap.dataset.field = f.name;
    return wrap;
  }

  function values(form, fields, part) {
    const out = {};
    for (const f of fields) {
      if (editing[part] !== undefined && f.fixed) continue;
      const node = form.elements[f.name];
      if (f.type === "checkbox") { out[f.name] = node.checked; continue; }
      const raw = node.value.trim();
      if (raw === "") { if (editing[part] !== undefined || !f.required) out[f.name] = null; continue; }
      out[f.name] = f.type === "number" ? Number(raw) : raw;
    }
    // a create leaves unset fields to the API's defaults
    if (editing[part] === undefined) for (const key of Object.keys(out)) if (out[key] === null) delete out[key];
    return out;
  }

  function showError(part, error) {
    const box = document.getElementById(`${part}-error`);
    box.textContent = error.message;
    for (const label of document.querySelectorAll(`#${part}-fields label`)) label.classList.remove("invalid");
    for (const p of error.body?.detail ?? []) {
      if (typeof p !== "object") continue;
      document.querySelector(`#${part}-fields [data-field="${p.field.split(".")[0]}"]`)?.classList.add("invalid");
    }
  }

  function resetForm(part) {
    editing[part] = undefined;
    const spec = PARTS[part];
    const box = document.getElementById(`${part}-fields`);
    box.replaceChildren(...spec.fields().map((f) => input(f, part)));
    document.getElementById(`${part}-error`).textContent = "";
    document.getElementById(`${part}-submit`).textContent = t("install.add");
    document.getElementById(`${part}-cancel`).hidden = true;
    const needsEdge = spec.edgeScoped && !state.edge;
    document.getElementById(`${part}-submit`).disabled = needsEdge || (part === "edges" && !state.building);
  }

  function edit(part, item) {
    resetForm(part);
    editing[part] = item.id;
    const form = document.getElementById(`${part}-form`);
    for (const f of PARTS[part].fields()) {
      const node = form.elements[f.name];
      if (!node) continue;
      const value = item[f.name];
      if (f.type === "checkbox") node.checked = Boolean(value);
      else node.value = value ?? "";
      if (f.fixed) node.disabled = true;
    }
    document.getElementById(`${part}-submit`).textContent = t("install.save");
    document.getElementById(`${part}-cancel`).hidden = false;
    form.scrollIntoView({block: "nearest"});
  }

  async function remove(part, item) {
    if (!window.confirm(t("install.confirm_delete", {what: item.name}))) return;
    try {
      await api("DELETE", `${PARTS[part].path}/${item.id}`);
      toast(t("install.deleted"));
      await load();
    } catch (error) { toastError(error); }
  }

  async function readerCommand(door, action) {
    const install = action === "install";
    const reason = window.prompt(t("install.reason_prompt"), t(install ? "install.reason_install" : "install.reason_rotate"));
    if (reason === null || !reason.trim()) return;
    const minutes = 10;
    try {
      await api("POST", `/doors/${door.id}/${action}`, install ? {minutes, reason: reason.trim()} : {reason: reason.trim()});
      toast(install ? t("install.install_sent", {door: door.name, minutes}) : t("install.rotate_sent", {door: door.name}));
    } catch (error) { toastError(error); }
  }

  // The way out for an edge that refuses the hub's configurations as older than the one it
  // runs (the hub's database restored from a backup): a signed reset_config, with its reason.
  async function resetConfig(edge) {
    const reason = await askReason(t("install.reset_config_title", {edge: edge.name}),
      {label: t("install.reset_config_reason")});
    if (!reason) return;
    const box = document.getElementById("edge-command");
    try {
      let command = await api("POST", `/edges/${edge.id}/reset-config`, {reason});
      showCommand(box, command);
      command = await answered(command);
      showCommand(box, command);
    } catch (error) {
      box.dataset.status = "refused";
      box.className = "error";
      box.replaceChildren(t("install.reset_refused", {edge: edge.name, reason: error.message}));
      box.hidden = false;
    }
  }

  // The command once its edge answered, or as sent if no answer came within ten seconds.
  async function answered(command) {
    const query = `/commands?site_id=${encodeURIComponent(command.site_id)}&edge=${encodeURIComponent(command.edge)}&limit=50`;
    for (let i = 0; i < 20 && command.status === "sent"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      command = (await api("GET", query)).items.find((c) => c.id === command.id) ?? command;
    }
    return command;
  }

  function showCommand(box, command) {
    const done = command.status === "ok";
    const words = done ? "install.reset_ok" : command.status === "sent" ? "install.reset_waiting"
      : command.status === "unsent" ? "install.reset_unsent" : "install.reset_not_taken";
    box.dataset.status = command.status;
    box.className = done || command.status === "sent" ? "muted" : "error";
    const pill = done ? Lintel.pill(t("install.reset_done"), "ok") : statusPill(command.status);
    box.replaceChildren(pill, " ", t(words, {edge: command.edge}),
      command.answer ? el("span", {class: "mono small", translate: "no"}, ` (${command.answer})`) : null);
    box.hidden = false;
  }

  async function loadResidents() {
    const select = document.getElementById("pin-resident");
    const residents = state.building === null ? []
      : (await api("GET", `/residents?building_id=${state.building}&limit=500`)).items;
    select.replaceChildren(...residents.map((r) => el("option", {value: r.id}, r.name)));
  }

  async function setPin(event) {
    event.preventDefault();
    const form = document.getElementById("pin-form");
    const select = document.getElementById("pin-resident");
    const body = {pin: form.elements.pin.value.trim()};
    if (form.elements.duress_pin.value.trim()) body.duress_pin = form.elements.duress_pin.value.trim();
    try {
      await api("POST", `/residents/${select.value}/pin`, body);
      toast(t("install.pin_saved", {name: select.selectedOptions[0]?.textContent ?? ""}));
      form.reset();
      showError("pin", {message: ""});  // clears the message and the marked fields
    } catch (error) { showError("pin", error); }
  }

  async function submit(part, event) {
    event.preventDefault();
    const spec = PARTS[part];
    const form = document.getElementById(`${part}-form`);
    let body = values(form, spec.fields(), part);
    try {
      if (editing[part] !== undefined) {
        await api("PATCH", `${spec.path}/${editing[part]}`, body);
      } else {
        if (spec.body) body = spec.body(body);
        else body = {edge_id: state.edge.id, ...body};
        await api("POST", spec.path, body);
      }
      toast(t("install.saved"));
      resetForm(part);
      await load();
    } catch (error) { showError(part, error); }
  }

  function table(part, items) {
    const spec = PARTS[part];
    document.getElementById(`${part}-head`).replaceChildren(el("tr", {},
      spec.columns.map(([name]) => el("th", {}, field(name))), el("th", {}, "")));
    fill(document.getElementById(`${part}-rows`), items, (item) => el("tr", {},
      spec.columns.map(([name, show]) => td(field(name), show(item))),
      td("", (spec.actions?.(item) ?? []).flatMap(([label, act]) => [
        el("button", {class: "small", type: "button", onclick: act}, t(label)), " "]),
      el("button", {class: "small", type: "button", onclick: () => edit(part, item)}, t("install.edit")), " ",
      el("button", {class: "small danger", type: "button", onclick: () => remove(part, item)}, t("install.delete")))));
  }

  // `given`: the site's edges, when the page asked for them already (its first load)
  async function load(given = null) {
    const edges = (given ?? (await api("GET", "/edges")).items).filter((e) => e.building_id === state.building);
    const select = document.getElementById("edge");
    const chosen = state.edge && edges.find((e) => e.id === state.edge.id) ? state.edge.id : edges[0]?.id;
    select.replaceChildren(...edges.map((e) => el("option", {value: e.id}, e.label ? `${e.name} · ${e.label}` : e.name)));
    if (chosen !== undefined) select.value = chosen;
    state.edge = edges.find((e) => e.id === chosen) ?? null;
    table("edges", edges);
    document.getElementById("provision").textContent = state.edge
      ? t("install.provision", {cmd: `lintel provision edge ${state.edge.site_id} ${state.codes[state.building]}`})
      : t("install.no_edge");
    if (state.edge) {
      const [lines, doors, devices] = await Promise.all([
        api("GET", `/lines?edge_id=${state.edge.id}`), api("GET", `/doors?edge_id=${state.edge.id}`),
        api("GET", PARTS.devices.list(state.edge))]);
      state.lines = lines.items;
      table("lines", lines.items);
      table("doors", doors.items);
      // only those installed from the hub (not the ones known from their events alone)
      table("devices", devices.items.filter((d) => d.installation).map((d) => ({...d, ...d.installation})));
    } else {
      state.lines = [];
      for (const part of ["lines", "doors", "devices"]) table(part, []);
    }
    for (const part of Object.keys(PARTS)) if (editing[part] === undefined) resetForm(part);
  }

  async function start() {
    // the edges beside the buildings: the first building's parts are then one round away
    const [buildings, models, edges] = await Promise.all(
      [api("GET", "/buildings"), api("GET", "/device-models"), api("GET", "/edges")]);
    state.models = models.items;
    const select = document.getElementById("building");
    select.replaceChildren(...buildings.items.map((b) => el("option", {value: b.id}, `${b.code} · ${b.name}`)));
    for (const b of buildings.items) { state.sites[b.id] = b.site_id; state.codes[b.id] = b.code; }
    state.building = buildings.items[0]?.id ?? null;
    select.addEventListener("change", () => {
      state.building = Number(select.value); state.edge = null;
      load().catch(toastError); loadResidents().catch(toastError); });
    document.getElementById("pin-form").addEventListener("submit", setPin);
    document.getElementById("edge").addEventListener("change", (ev) => {
      state.edge = {id: Number(ev.target.value)}; load().catch(toastError); });
    for (const part of Object.keys(PARTS)) {
      document.getElementById(`${part}-form`).addEventListener("submit", (ev) => submit(part, ev));
      document.getElementById(`${part}-cancel`).addEventListener("click", () => resetForm(part));
    }
    await Promise.all([load(edges.items), loadResidents()]);
  }

  start().catch(toastError);
})();
