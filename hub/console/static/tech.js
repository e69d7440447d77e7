// Technician: the open faults of the site's devices, as cards for a phone.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toastError} = Lintel;
  const SEVERITY = {critical: "bad", major: "bad", minor: "warn", info: "info"};

  async function load() {
    const devices = await api("GET", "/devices");
    const faulty = devices.items.filter((d) => d.open_faults > 0);
    const details = await Promise.all(faulty.map((d) => api("GET", `/devices/${d.id}`)));
    const box = document.getElementById("fault-list");
    const cards = [];
    for (const device of details) {
      for (const f of device.faults) {
        cards.push(el("section", {class: "card", dataset: {device: device.name, code: f.code}},
          el("div", {class: "building-head"}, el("h3", {}, device.name),
            pill(f.severity ? word("severity.", f.severity) : "—", SEVERITY[f.severity] ?? "")),
          el("p", {}, (Lintel.lang === "zh" ? f.text_zh : f.text) || f.code),
          el("div", {class: "muted small"}, `${t("tech.raised")} ${time(f.raised_at)} · ${f.code}`,
            f.skill ? ` · ${t("tech.skill")}: ${f.skill}` : "")));
      }
    }
    box.replaceChildren(...(cards.length ? cards : [el("p", {class: "muted"}, t("common.none"))]));
  }

  Lintel.live({devices: Lintel.debounce(() => load().catch(toastError), 300)},
    () => load().catch(toastError));
})();
