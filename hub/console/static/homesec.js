// Home security on the resident's phone: the unit's arm state, arming away or stay and
// disarming (the building's edge decides and answers), and the unit's alarms as they come.
"use strict";
(() => {
  const {t, el, api, time, pill, toast, toastError} = Lintel;
  const state = document.getElementById("homesec-state");
  const actions = document.getElementById("homesec-actions");
  const refused = document.getElementById("homesec-refused");
  const alarms = document.getElementById("homesec-alarms");
  let lastMode = null;  // what the refused arm asked for, for "arm without them"
  let openZones = [];

  function show(s) {
    const phase = pill(t(`homesec.phase.${s.phase}`), s.phase === "alarm" ? "bad"
      : s.phase === "disarmed" ? "" : "ok");
    state.replaceChildren(el("strong", {dataset: {mode: s.mode, phase: s.phase}},
      t(`homesec.mode.${s.mode}`)), " ", phase,
      s.panel_status === "offline" ? pill(t("homesec.panel_offline"), "bad") : null,
      el("span", {class: "muted small"}, ` ${t("homesec.unit", {unit: s.unit})}`));
    actions.hidden = false;
    alarms.replaceChildren(...(s.alarms.length ? s.alarms.map((a) => el("article",
      {class: "card alarm-card", dataset: {alarm: a.type}},
      el("strong", {}, a.message),
      el("div", {class: "muted small"}, `${time(a.last_seen)}${a.count > 1 ? " · " + t("homesec.times", {n: a.count}) : ""}`)))
      : [el("p", {class: "muted"}, t("homesec.no_alarms"))]));
  }

  async function load() {
    try { show(await api("GET", "/me/home-security")); }
    catch (error) {
      if (error.status === 404) { state.textContent = t("homesec.no_panel"); return; }
      throw error;
    }
  }

  async function arm(mode, bypass = []) {
    refused.hidden = true;
    const answer = await api("POST", "/me/home-security/arm", {mode, bypass});
    if (answer.result === "ok") {
      toast(t(mode === "disarmed" ? "homesec.disarmed" : "homesec.arming"));
    } else if (answer.result === "rejected" && answer.open_zones.length) {
      lastMode = mode;
      openZones = answer.open_zones.map((z) => z.zone);
      document.getElementById("homesec-refused-text").textContent = t("homesec.refused_open",
        {zones: answer.open_zones.map((z) => `${z.name} (${z.zone})`).join(", ")});
      refused.hidden = false;
    } else if (answer.result === "sent") {
      toast(t("homesec.no_answer"), "warn");
    } else {
      toast(t("homesec.refused", {reason: answer.reason}), "bad");
    }
    await load();
  }

  for (const button of actions.querySelectorAll("button[data-mode]")) {
    button.addEventListener("click", () => arm(button.dataset.mode).catch(toastError));
  }
  document.getElementById("homesec-bypass").addEventListener("click",
    () => arm(lastMode, openZones).catch(toastError));
  const reload = Lintel.debounce(() => load().catch(toastError), 100);
  Lintel.live({homesec: reload}, reload);
  load().catch(toastError);
})();
