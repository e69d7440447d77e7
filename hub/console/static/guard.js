// Guard console: the live access log, buildings with their edges, doors (each in its state) and
// devices, remote door opening and building lockdown (each with a reason), the commands sent,
// and the alarms: a new critical one sounds a tone (WebAudio, with a remembered mute) and
// flashes the title until it is acknowledged.
"use strict";
(() => {
  const {t, word, el, api, time, pill, statusPill, toast, toastError, askReason, fill, td} = Lintel;
  const accessRows = document.getElementById("access-rows");
  const seen = new Set();

  // Who came through: the person the API names (a resident, a refused card's owner, a visitor).
  function person(e) {
    if (!e.person) return "—";
    return e.person_kind === "visitor" ? [e.person, " ", el("span", {class: "muted small"}, t("access.visitor"))] : e.person;
  }

  // The edge cut or escaped what the reader sent: the credential shown is not the one read.
  function malformedMark(note) {
    return note ? [" ", el("span", {class: "pill warn", title: note, "data-testid": "malformed"},
      t("access.malformed"))] : null;
  }

  function accessRow(e, fresh) {
    const result = e.result === "granted"
      ? pill(t("access.granted"), "ok")
      : pill(`${t("access.denied")} · ${word("reason.", e.reason)}`, "bad");
    return el("tr", {class: fresh ? "fresh" : null, dataset: {id: e.id, door: e.door}},
      td(t("common.time"), time(e.ts)),
      td(t("common.door"), e.door_name || e.door),
      td(t("access.credential"), `${word("cred.", e.credential_type)} ${e.credential}`,
        malformedMark(e.malformed)),
      td(t("access.resident"), person(e)), td(t("access.result"), result));
  }

  async function loadAccess(markFresh = false, given = null) {
    const page = given ?? await api("GET", "/access-events?limit=50");
    fill(accessRows, page.items, (e) => accessRow(e, markFresh && !seen.has(e.id)));
    page.items.forEach((e) => seen.add(e.id));
  }

  // Runs `fn` once `ms` after the first ask, however many asks come meanwhile: under steady
  // traffic it still runs every `ms` (a debounce would wait for a quiet moment that never comes).
  function batched(fn, ms) {
    let timer = null;
    return () => {
      if (timer === null) timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  // A pushed event carries codes, not names: the newest page is read again (one indexed query).
  const reloadAccess = batched(() => loadAccess(true).catch(toastError), 200);
  function pushAccess(e) {
    if (!seen.has(e.id)) reloadAccess();
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

  // Each state its own colour, icon and words (never colour alone): see the legend.
  const DOOR_LOOK = {normal: "ok", open: "info", held_open: "warn", forced: "bad",
    locked_down: "lock", fire_released: "fire", offline: "off"};

  function doorState(state) {
    return el("span", {class: `door-state ${DOOR_LOOK[state] || ""}`, "data-state": state,
      "data-testid": "door-state"}, el("span", {class: "icon", "aria-hidden": "true"}), t(`door.${state}`));
  }

  function doorItem(door) {
    const name = door.label || door.name;
    return el("li", {class: `door ${door.state}`, dataset: {door: door.name, state: door.state}},
      el("div", {class: "grow"}, el("div", {}, name),
        el("div", {class: "sub"}, door.changed_at ? `${door.name} · ${time(door.changed_at)}` : door.name)),
      doorState(door.state),
      el("button", {class: "small", "data-testid": `open-${door.name}`,
        disabled: door.state === "locked_down" || door.state === "offline" ? true : null,
        onclick: () => command(`/doors/${door.id}/unlock`, t("guard.open_title", {door: name}),
          () => t("guard.opened", {door: name}))}, t("guard.open")));
  }

  function legend() {
    return el("div", {class: "door-legend", "data-testid": "door-legend"},
      el("span", {class: "muted small"}, t("door.legend")),
      ["normal", "open", "held_open", "forced", "locked_down", "fire_released", "offline"].map(doorState));
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
        el("button", {class: "small", "data-testid": `release-${edge.name}`,
          onclick: () => command(`/edges/${edge.id}/release`, t("guard.release_title", {edge: edge.name}),
            () => t("guard.command_sent", {command: t("guard.release")}))}, t("guard.release"))),
      el("ul", {class: "row-list"}, doors.map(doorItem), devices.map(deviceItem)));
  }

  async function loadBuildings(given = null) {
    const [buildings, edges, doors, devices] = given ?? await Promise.all(
      ["/buildings", "/edges", "/door-states", "/devices"].map((p) => api("GET", p)));
    const box = document.getElementById("buildings");
    const groups = new Map(buildings.items.map((b) => [b.id, {building: b, edges: []}]));
    const loose = {building: null, edges: []};
    for (const edge of edges.items) (groups.get(edge.building_id) || loose).edges.push(edge);
    const blocks = [];
    for (const {building, edges: own} of [...groups.values(), loose]) {
      if (!own.length) continue;
      const online = own.filter((e) => e.status === "online").length;
      const ownDoors = doors.items.filter((d) => own.some((e) => e.id === d.edge_id));
      const worst = ["fire_released", "forced", "locked_down"].find((st) => ownDoors.some((d) => d.state === st));
      blocks.push(el("div", {class: `building${worst ? " " + worst : ""}`, dataset: {building: building ? building.code : ""}},
        el("div", {class: "building-head"},
          el("h3", {}, building ? `${building.name} (${building.code})` : t("guard.no_building")),
          worst ? doorState(worst) : null,
          pill(`${online}/${own.length} ${t("status.online")}`, online === own.length ? "ok" : "bad")),
        own.map((edge) => edgeBlock(edge,
          doors.items.filter((d) => d.edge_id === edge.id),
          devices.items.filter((d) => d.edge === edge.name && d.site === edge.site_id)))));
    }
    box.replaceChildren(...(blocks.length ? blocks : [el("p", {class: "muted"}, t("common.none"))]), legend());
  }

  async function loadCommands(given = null) {
    const list = given ?? await api("GET", "/commands?limit=8");
    fill(document.getElementById("command-rows"), list.items, (c) => el("tr", {},
      td(t("common.time"), time(c.issued_at)),
      td(t("guard.command"), `${word("command.", c.command)}${c.door ? " · " + c.door : ""}`),
      td(t("common.reason"), c.reason), td(t("guard.issued_by"), c.issued_by),
      td(t("common.status"), statusPill(c.status))));
  }

  // --- the alarm signal: a tone (WebAudio: no sound file) repeated while a critical alarm is
  // unacknowledged, and a flashing title; the mute is remembered in this browser ---
  const Signal = (() => {
    const KEY = "lintel.alarm_sound";
    const REPEAT_MS = 10000;
    const button = document.getElementById("sound-toggle");
    const baseTitle = document.title;
    let muted = localStorage.getItem(KEY) === "off";
    let audio = null, flashing = null, repeating = null;

    function context() {
      const Audio = window.AudioContext || window.webkitAudioContext;
      if (!Audio) return null;
      if (!audio) audio = new Audio();
      if (audio.state === "suspended") audio.resume().then(show, show);
      return audio;
    }

    function tone() {
      if (muted) return;
      const ctx = context();
      if (!ctx) return;
      const start = ctx.currentTime + 0.02;
      [880, 660, 880].forEach((hz, i) => {  // three short beeps, high-low-high
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        const at = start + i * 0.25;
        osc.type = "square";
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
        osc.connect(gain).connect(ctx.destination);
        osc.start(at);
        osc.stop(at + 0.22);
      });
      show();
    }

    function show() {
      if (!button) return;
      const blocked = !muted && audio && audio.state !== "running";
      button.textContent = t(muted ? "guard.sound_off" : blocked ? "guard.sound_blocked" : "guard.sound_on");
      button.setAttribute("aria-pressed", String(!muted));
      button.classList.toggle("muted", muted);
      button.classList.toggle("blocked", Boolean(blocked));
    }

    function flash(text) {
      clearInterval(flashing);
      let on = true;
      document.title = `⚠ ${text}`;
      flashing = setInterval(() => { on = !on; document.title = on ? `⚠ ${text}` : baseTitle; }, 900);
    }

    function calm() {
      clearInterval(flashing);
      clearInterval(repeating);
      flashing = repeating = null;
      document.title = baseTitle;
    }

    // A new critical alarm: sound now and every REPEAT_MS until `calm()`.
    function alert(text) {
      flash(text);
      tone();
      clearInterval(repeating);
      repeating = setInterval(tone, REPEAT_MS);
    }

    if (button) {
      button.addEventListener("click", () => {
        muted = !muted;
        localStorage.setItem(KEY, muted ? "off" : "on");
        if (!muted) context();
        show();
      });
    }
    // browsers start audio only after a gesture on the page: the first click or key allows it
    const allow = () => { if (!muted) context(); show(); };
    document.addEventListener("pointerdown", allow, {once: true});
    document.addEventListener("keydown", allow, {once: true});
    show();
    return {alert, calm};
  })();

  // --- alarms: the open ones, worst first; acknowledge and clear with an optional note ---
  const openAlarms = new Map();
  const RANK = {critical: 0, major: 1, minor: 2, info: 3};

  function isNewCritical(a) {
    if (a.severity !== "critical" || a.state !== "active") return false;
    const before = openAlarms.get(a.id);
    return !before || before.state !== "active" || a.count > before.count;
  }

  // The signal stops once no critical alarm is left unacknowledged.
  function settleSignal() {
    if (![...openAlarms.values()].some((a) => a.severity === "critical" && a.state === "active")) Signal.calm();
  }

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
    const fresh = isNewCritical(a);
    if (a.state === "cleared") openAlarms.delete(a.id); else openAlarms.set(a.id, a);
    renderAlarms();
    if (fresh) {
      const what = word("alarm.", a.type);
      Signal.alert(what);
      toast(t("guard.new_alarm", {what}), "bad");
    } else {
      settleSignal();
    }
  }

  async function loadAlarms(given = null) {
    const page = given ?? await api("GET", "/alarms?open=true&limit=100");
    openAlarms.clear();
    for (const a of page.items) openAlarms.set(a.id, a);
    renderAlarms();
    settleSignal();
  }

  // --- camera alerts, one tile per camera: its latest alert's snapshot (uploaded by the edge
  // a moment after the alert) and how many alerts it raised, not a dozen near-identical shots ---
  const MAX_CAMERAS = 12;
  const RECENT_ALERTS = 100;
  const cameras = new Map();  // camera -> {latest, count, first}

  function shot(group) {
    const c = group.latest;
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
    const when = group.count > 1 ? `${time(group.first)} – ${time(c.ts)}` : time(c.ts);
    return el("div", {class: "shot", dataset: {alert: c.id, camera: c.camera}}, media,
      el("div", {class: "cap"}, el("div", {}, `${c.camera} · ${word("camera.", c.event)}`,
        group.count > 1 ? [" ", pill(t("camera.alerts", {n: group.count}), "warn")] : null),
        el("div", {class: "sub"}, `${when}${c.zone ? " · " + t("camera.zone", {zone: c.zone}) : ""}`)));
  }

  function renderCameras() {
    const box = document.getElementById("camera-list");
    const groups = [...cameras.values()].sort((x, y) => y.latest.ts.localeCompare(x.latest.ts))
      .slice(0, MAX_CAMERAS);
    box.replaceChildren(...(groups.length ? groups.map(shot) : [el("span", {class: "muted"}, t("common.none"))]));
  }

  function addAlert(c) {
    const group = cameras.get(c.camera);
    if (!group) { cameras.set(c.camera, {latest: c, count: 1, first: c.ts, ids: new Set([c.id])}); return; }
    if (group.ids.has(c.id)) return;
    group.ids.add(c.id);
    group.count += 1;
    if (c.ts > group.latest.ts) group.latest = c;
    if (c.ts < group.first) group.first = c.ts;
  }

  async function loadCamera(given = null) {
    const page = given ?? await api("GET", `/camera-alerts?limit=${RECENT_ALERTS}`);
    cameras.clear();
    page.items.forEach(addAlert);
    renderCameras();
  }

  function pushCamera(c) {
    addAlert(c);
    renderCameras();
  }

  // Everything at once: the panel the page came with, shown at once, then /guard-panel (one
  // request for the eight lists) each time the live feed opens: what happened between the
  // page's rendering and the feed's opening was pushed to nobody.
  function showPanel(panel) {
    return Promise.all([loadAlarms(panel.alarms), loadAccess(false, panel.access_events),
      loadBuildings([panel.buildings, panel.edges, panel.door_states, panel.devices]),
      loadCommands(panel.commands), loadCamera(panel.camera_alerts)]);
  }
  const embedded = document.getElementById("guard-panel");
  if (embedded) showPanel(JSON.parse(embedded.textContent)).catch(toastError);

  const reloadBuildings = batched(() => loadBuildings().catch(toastError), 300);
  Lintel.live(
    {access: pushAccess, devices: reloadBuildings, edges: reloadBuildings, door: reloadBuildings,
      alarms: pushAlarm, camera: pushCamera},
    () => api("GET", "/guard-panel").then(showPanel).catch(toastError));
})();
