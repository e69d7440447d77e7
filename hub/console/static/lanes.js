// The guard's lane panel: each lane's latest plate with its picture and decision, live; the
// barrier opened with a reason (a temporary vehicle held for the guard); the lanes' alarms.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toast, toastError, askReason, fill, td, live} = Lintel;
  const lanes = new Map();  // name -> {lane, last}
  const recent = [];
  const KIND = {open: "ok", refused: "bad", held: "warn"};
  const LANE_ALARMS = new Set(["vehicle_blocked", "gate_forced", "lane_barrier_failed",
    "vehicle_overstay", "lane_camera_refused"]);
  let alarms = [];

  function picture(d) {
    if (!d || !d.snapshot_id) return el("div", {class: "noimg"}, t("lanes.no_picture"));
    const url = `/api/v1/snapshots/${d.snapshot_id}`;
    return el("img", {src: url, alt: d.plate, loading: "lazy"});
  }

  function plateText(d) {
    const shown = d.matched_plate || d.plate;
    return [el("strong", {class: "plate", "data-testid": "plate"}, shown),
      d.matched_plate ? el("div", {class: "sub"}, t("lanes.read_as", {plate: d.plate})) : null,
      d.corrected_plate ? el("div", {class: "sub", "data-testid": "corrected"},
        t("lanes.corrected", {plate: d.corrected_plate})) : null,
      d.flag ? pill(word("vehicle_flag.", d.flag), "warn") : null];
  }

  async function openLane(entry) {
    const name = entry.lane.name;
    const reason = await askReason(t("lanes.open_title", {lane: name}), {label: t("lanes.open_reason")});
    if (reason === null) return;
    const last = entry.last;
    const body = {reason};
    if (last && last.result !== "open" && last.reason !== "blocked") body.plate = last.plate;
    try {
      await api("POST", `/lanes/${entry.lane.id}/open`, body);
      toast(t("lanes.opened", {lane: name}), "ok");
    } catch (error) { toastError(error); }
  }

  async function correct(d) {
    const title = t("lanes.correct_title", {plate: d.matched_plate || d.plate});
    const plate = await askReason(title, {label: t("lanes.correct_plate")});
    if (plate === null) return;
    const reason = await askReason(title, {label: t("lanes.correct_reason")});
    if (reason === null) return;
    try {
      const done = await api("POST", `/vehicles/decisions/${d.id}/correct`, {plate, reason});
      d.corrected_plate = done.plate;
      toast(t("lanes.correction_saved"), "ok");
      render();
    } catch (error) { toastError(error); }
  }

  function laneCard(entry) {
    const {lane, last} = entry;
    return el("section", {class: "card lane", dataset: {lane: lane.name}, "data-testid": `lane-${lane.name}`},
      el("h2", {}, lane.label || lane.name, " ", pill(t(`lanes.${lane.direction}`))),
      el("div", {class: "shot"}, picture(last)),
      last ? el("div", {class: "lane-last"}, ...plateText(last), " ",
        pill(word("vehicle_result.", last.result), KIND[last.result]),
        el("div", {class: "sub"}, `${time(last.ts)} · ${word("vehicle_reason.", last.reason)}`))
        : el("p", {class: "muted"}, t("lanes.waiting")),
      el("button", {type: "button", class: "small", "data-testid": `open-${lane.name}`,
        onclick: () => openLane(entry)}, t("lanes.open")));
  }

  function render() {
    const box = document.getElementById("lanes");
    if (!lanes.size) { box.replaceChildren(el("p", {class: "muted"}, t("lanes.none"))); return; }
    box.replaceChildren(...[...lanes.values()].map(laneCard));
    fill(document.getElementById("lane-recent"), recent.slice(0, 30), (d) => el("tr", {},
      td(t("common.time"), time(d.ts)), td(t("lanes.lane"), d.lane),
      td(t("lanes.plate"), ...plateText(d)),
      td(t("lanes.result"), pill(word("vehicle_result.", d.result), KIND[d.result])),
      td(t("lanes.reason"), word("vehicle_reason.", d.reason)),
      td(t("common.actions"), el("button", {type: "button", class: "small",
        "data-testid": "correct", onclick: () => correct(d)}, t("lanes.correct")))));
    const list = document.getElementById("lane-alarms");
    list.replaceChildren();
    if (!alarms.length) list.append(el("li", {class: "muted"}, t("lanes.no_alarms")));
    for (const a of alarms) {
      list.append(el("li", {class: `lane-alarm ${a.severity}`, dataset: {alarm: a.id}},
        el("strong", {}, word("alarm.", a.type)), " ", el("span", {}, a.message),
        el("div", {class: "sub"}, time(a.last_seen || a.raised_at))));
    }
  }

  function decided(d) {
    if (!d || !d.lane || !d.plate || !d.result) return;  // a decision, not a barrier event
    if (recent.some((r) => r.id === d.id)) return;  // a redelivered event comes twice
    recent.unshift(d);
    const entry = lanes.get(d.lane);
    if (entry && (!entry.last || entry.last.ts <= d.ts)) entry.last = d;
    render();
  }

  function alarmPushed(message) {
    const a = message.alarm;
    if (!a || !LANE_ALARMS.has(a.type)) return;
    alarms = [a, ...alarms.filter((x) => x.id !== a.id)].filter((x) => x.state !== "cleared");
    render();
  }

  async function load() {
    try {
      const [laneList, decisions, open] = await Promise.all([
        api("GET", "/lanes"), api("GET", "/vehicles/decisions?limit=50"),
        api("GET", "/alarms?open=true&limit=100")]);
      lanes.clear();
      for (const lane of laneList.items) lanes.set(lane.name, {lane, last: null});
      recent.length = 0;
      for (const d of decisions.items.reverse()) decided(d);
      alarms = open.items.filter((a) => LANE_ALARMS.has(a.type));
      render();
    } catch (error) { toastError(error); }
  }

  live({vehicles: decided, alarms: alarmPushed}, load);
})();
