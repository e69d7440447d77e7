// The supervisor's rounds, live: each round in progress with its progress, next checkpoint and
// flags; the finished ones with their state. Reloaded on a push (a round started, a reading,
// a patrol alarm, a card read at a door) and every 30 s (overdue checkpoints, scheduled rounds).
"use strict";
(() => {
  const {t, el, api, time, date, pill, fill, td, live, debounce, toastError, lang} = Lintel;
  const $ = (id) => document.getElementById(id);
  const state = {routes: new Map(), checkpoints: new Map()};
  const named = (x) => (lang === "zh" && x.name_zh) || x.name;
  const STATE_KIND = {open: "info", completed: "ok", incomplete: "bad"};

  for (const node of document.querySelectorAll("time[data-ts]")) node.textContent = date(node.dataset.ts);

  // progress, the next checkpoint (after the furthest read) and when it is due
  function progress(round) {
    const route = state.routes.get(round.route_id);
    const stops = route ? route.stops : [];
    const read = new Set(round.readings.map((r) => state.checkpoints.get(r.checkpoint_id)?.code));
    const furthest = Math.max(0, ...round.readings.map((r) => r.position));
    let due = Date.parse(round.started_at);
    let next = null;
    stops.forEach((stop, i) => {
      due += stop.allowance_s * 1000;
      if (!next && i + 1 > furthest && !read.has(stop.checkpoint)) next = {code: stop.checkpoint, due};
    });
    return {route, total: stops.length, done: round.readings.length, next,
      late: round.readings.filter((r) => r.late).length,
      disorder: round.readings.filter((r) => r.out_of_order).length};
  }

  function flags(p) {
    return [p.late ? pill(t("patrol_sup.late", {n: p.late}), "warn") : null,
      p.disorder ? pill(t("patrol_sup.out_of_order", {n: p.disorder}), "warn") : null];
  }

  function openRound(round) {
    const p = progress(round);
    const overdue = p.next && Date.now() > p.next.due;
    const cp = p.next ? state.checkpoints.get([...state.checkpoints.values()]
      .find((c) => c.code === p.next.code)?.id) : null;
    return el("div", {class: "building", "data-round": round.id},
      el("div", {class: "building-head"},
        el("h3", {}, p.route ? named(p.route) : "—"),
        round.guard ? pill(round.guard, "info") : pill(t("patrol_sup.untaken"), "warn"),
        overdue ? pill(t("patrol_sup.overdue"), "bad") : null),
      el("div", {class: "patrol-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": p.total,
        "aria-valuenow": p.done}, el("span", {style: `width: ${p.total ? (100 * p.done) / p.total : 0}%`})),
      el("div", {class: "edge-line"}, t("patrol_sup.progress", {n: p.done, total: p.total}),
        p.next ? ` · ${t("patrol_sup.next", {cp: `${p.next.code}${cp ? " " + named(cp) : ""}`,
          time: time(new Date(p.next.due).toISOString(), false)})}` : ""),
      el("div", {class: "actions"}, ...flags(p)));
  }

  function finishedRow(round) {
    const p = progress(round);
    return el("tr", {"data-round": round.id},
      td(t("patrol_sup.started"), date(round.started_at)),
      td(t("patrol_sup.route"), p.route ? named(p.route) : "—"),
      td(t("patrol_sup.guard"), round.guard ?? "—"),
      td(t("patrol_sup.checkpoints"), `${p.done}/${p.total} `, ...flags(p)),
      td(t("patrol_sup.state"), pill(t(`patrol.state.${round.state}`), STATE_KIND[round.state])));
  }

  async function load() {
    try {
      const [routes, checkpoints, rounds] = await Promise.all([api("GET", "/patrol/routes"),
        api("GET", "/patrol/checkpoints"), api("GET", "/patrol/rounds?limit=60")]);
      state.routes = new Map(routes.items.map((r) => [r.id, r]));
      state.checkpoints = new Map(checkpoints.items.map((c) => [c.id, c]));
      const open = rounds.items.filter((r) => r.state === "open");
      $("open-count").textContent = String(open.length);
      $("open-rounds").replaceChildren(...(open.length ? open.map(openRound)
        : [el("p", {class: "muted"}, t("common.none"))]));
      fill($("recent-rounds"), rounds.items.filter((r) => r.state !== "open"), finishedRow);
    } catch (error) { toastError(error); }
  }

  const reload = debounce(load, 400);
  live({
    patrol: reload,
    alarms: (data) => { if (String(data.alarm?.type ?? "").startsWith("patrol_")) reload(); },
    // a card at a door in checkpoint mode may be a guard's reading
    access: (data) => { if ([...state.checkpoints.values()].some((c) => c.door === data.door)) reload(); },
  }, load);
  setInterval(load, 30000);
})();
