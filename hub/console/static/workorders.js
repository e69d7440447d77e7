// Work orders: a technician's orders (accept, start, notes, parts, resolve), a manager's list
// (close), a resident's repair requests (ask, follow, confirm, rate). New ones arrive live.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toast, toastError, askReason, lang} = Lintel;
  const box = document.getElementById("orders");
  const me = Number(box.dataset.me);
  const role = box.dataset.role;
  const filter = document.getElementById("order-filter");
  const open = new Set();  // orders whose details are shown
  const fresh = new Set();  // orders that just arrived (highlighted once)
  const devices = new Map();
  const STATE_KIND = {open: "warn", assigned: "info", in_progress: "info", resolved: "ok", closed: ""};
  const PRIORITY_KIND = {urgent: "bad", high: "warn", normal: "", low: ""};
  const MANAGER = role === "manager" || role === "admin";

  // A phone photo made small enough to send (the API takes JPEG or PNG up to 4 MB): larger
  // than 1600 px or 1.5 MB is redrawn as a JPEG; anything not an image is refused here.
  async function shrink(file) {
    if (!/^image\//.test(file.type)) {
      throw new Error(t("repairs.photo_type", {name: file.name}));
    }
    const small = /^image\/(jpeg|png)$/.test(file.type) && file.size <= 1.5 * 1024 * 1024;
    let bitmap = null;
    try { bitmap = await createImageBitmap(file); } catch { bitmap = null; }
    if (!bitmap) {
      if (small) return file;
      throw new Error(t("repairs.photo_type", {name: file.name}));
    }
    if (small && Math.max(bitmap.width, bitmap.height) <= 1600) return file;
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!blob || blob.size > 4 * 1024 * 1024) throw new Error(t("repairs.photo_too_big", {name: file.name}));
    return new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", {type: "image/jpeg"});
  }

  async function upload(orderId, files) {
    for (const file of files) {
      const body = new FormData();
      body.append("photo", await shrink(file));
      await api("POST", `/work-orders/${orderId}/photos`, body);
    }
  }

  function photoInput(testid) {
    return el("input", {type: "file", name: "photo", accept: "image/*", capture: "environment", multiple: true,
      "data-testid": testid});
  }

  async function act(order, action, body) {
    try {
      await api("POST", `/work-orders/${order.id}/${action}`, body);
      toast(t("wo.done"));
      await load();
    } catch (error) { toastError(error); }
  }

  function actions(o) {
    const buttons = [];
    const mine = o.assignee_id === me;
    if (role === "technician" && o.state === "open" && o.assignee_id === null) {
      buttons.push(el("button", {class: "primary", "data-testid": `accept-${o.id}`,
        onclick: () => act(o, "accept", {})}, t("wo.accept")));
    }
    if ((mine || role !== "technician") && o.state === "assigned" && role !== "resident") {
      buttons.push(el("button", {class: "primary", "data-testid": `start-${o.id}`,
        onclick: () => act(o, "start", {})}, t("wo.start")));
    }
    if ((mine || role !== "technician") && o.state === "in_progress" && role !== "resident") {
      buttons.push(el("button", {class: "primary", "data-testid": `resolve-${o.id}`, onclick: async () => {
        const note = await askReason(t("wo.resolve_title", {title: o.title}), {label: t("wo.resolve_prompt")});
        if (note !== null) await act(o, "resolve", {note});
      }}, t("wo.resolve")));
    }
    if (o.state === "resolved" && (role === "manager" || role === "admin" || role === "resident")) {
      buttons.push(el("button", {class: "primary", onclick: () => act(o, "close", {})},
        role === "resident" ? t("wo.confirm_done") : t("wo.close")));
    }
    if (role === "resident" && o.state === "closed" && o.rating === null) {
      buttons.push(el("span", {class: "stars", title: t("repairs.rate")}, [1, 2, 3, 4, 5].map((n) =>
        el("button", {class: "link", "aria-label": `${n}`, onclick: () => act(o, "rating", {stars: n})}, "★"))));
    }
    if (MANAGER && ["open", "assigned", "in_progress"].includes(o.state)) {
      buttons.push(el("button", {class: o.assignee_id === null ? "primary" : "small", "data-testid": `dispatch-${o.id}`,
        onclick: () => dispatch(o).catch(toastError)}, o.assignee_id === null ? t("wo.dispatch") : t("wo.reassign")));
    }
    buttons.push(el("button", {class: "small", "data-testid": `details-${o.id}`, onclick: () => {
      if (open.has(o.id)) open.delete(o.id); else open.add(o.id);
      load().catch(toastError);
    }}, open.has(o.id) ? t("wo.hide") : t("wo.details")));
    return el("div", {class: "actions"}, buttons);
  }

  // A manager gives an order to a technician of its skill (their open orders beside each
  // name), or lets the hub choose by workload; the technician is told at once (live push).
  async function dispatch(o) {
    const techs = (await api("GET", `/technicians?skill=${encodeURIComponent(o.skill)}`)).items
      .filter((x) => x.active && x.id !== o.assignee_id);
    if (!techs.length) { toast(t("wo.no_technician", {skill: word("skill.", o.skill)}), "bad"); return; }
    const done = await Lists.formDialog(t("wo.dispatch_title", {id: o.id, title: o.title}), [
      {name: "technician_id", label: t("wo.technician"), type: "select", testid: "dispatch-technician",
        options: [["", t("wo.auto")], ...techs.map((x) => [x.id, t("wo.tech_choice", {name: x.username, n: x.open_orders})])]},
      {name: "note", label: t("wo.note_optional"), maxlength: 4000},
    ], (v) => api("POST", `/work-orders/${o.id}/reassign`,
      {technician_id: v.technician_id ? Number(v.technician_id) : null, note: v.note || null}),
    {ok: o.assignee_id === null ? t("wo.dispatch") : t("wo.reassign"), id: "dispatch-dialog"});
    if (done) {
      toast(t("wo.dispatched", {who: done.assignee}));
      await load();
    }
  }

  function detail(d) {
    const working = role !== "resident" && !["resolved", "closed"].includes(d.state);
    const noteForm = el("form", {class: "inline-form"},
      el("input", {name: "text", required: true, maxlength: 4000, placeholder: t("wo.notes")}),
      el("button", {type: "submit", class: "small"}, t("wo.add_note")));
    noteForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", `/work-orders/${d.id}/notes`, {text: noteForm.elements.text.value.trim()}); await load(); }
      catch (error) { toastError(error); }
    });
    const partForm = el("form", {class: "inline-form"},
      el("input", {name: "name", required: true, maxlength: 200, placeholder: t("wo.part_name")}),
      el("input", {name: "quantity", type: "number", min: 1, value: 1, required: true, "aria-label": t("wo.quantity")}),
      el("button", {type: "submit", class: "small"}, t("wo.add_part")));
    partForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", `/work-orders/${d.id}/parts`,
          {name: partForm.elements.name.value.trim(), quantity: Number(partForm.elements.quantity.value)});
        await load();
      } catch (error) { toastError(error); }
    });
    const photoForm = el("form", {class: "inline-form"}, photoInput(`photo-${d.id}`),
      el("button", {type: "submit", class: "small"}, t("wo.add_photo")));
    photoForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const files = [...photoForm.elements.photo.files];
      if (!files.length) return;
      try { await upload(d.id, files); toast(t("wo.photo_added")); await load(); }
      catch (error) { toastError(error); }
    });
    const place = d.place ? [d.place.building, d.place.unit, d.place.floor !== null && d.place.floor !== undefined
      ? t("wo.floor", {n: d.place.floor}) : null, d.place.device, d.place.edge].filter(Boolean).join(" · ") : null;
    // a preventive visit's checklist: the technician ticks each item; resolve needs them all
    const tick = async (item, done) => {
      try { await api("POST", `/work-orders/${d.id}/checklist`, {ticks: {[item.code]: done}}); await load(); }
      catch (error) { toastError(error); }
    };
    const checklist = d.checklist && d.checklist.length ? el("div", {class: "checklist"},
      el("h4", {}, t("wo.checklist", {done: d.checklist.filter((i) => i.done).length, all: d.checklist.length})),
      el("ul", {}, d.checklist.map((i) => el("li", {dataset: {item: i.code}},
        el("label", {}, el("input", {type: "checkbox", checked: i.done, disabled: !working,
          onchange: (ev) => tick(i, ev.target.checked)}),
          ` ${i.code} ${lang === "zh" ? i.text_zh : i.text_en}`,
          i.done_by ? el("span", {class: "sub"}, ` — ${i.done_by} ${time(i.done_at)}`) : null))))) : null;
    return el("div", {class: "detail"},
      d.description ? el("p", {}, d.description) : null,
      place || d.contact ? el("div", {class: "where", "data-testid": "order-where"},
        place ? el("div", {}, el("strong", {}, `${t("wo.where")}: `), place) : null,
        d.contact ? el("div", {}, el("strong", {}, `${t("wo.contact")}: `), d.contact.name,
          d.contact.phone ? [" · ", el("a", {href: `tel:${d.contact.phone.replace(/[^0-9+]/g, "")}`,
            "data-testid": "order-call"}, t("wo.call", {phone: d.contact.phone}))] : null) : null) : null,
      checklist,
      el("div", {}, el("h4", {}, t("wo.photos")),
        el("div", {class: "photos", "data-testid": "order-photos"}, d.photos.map((p) =>
          el("a", {href: p.url, target: "_blank"}, el("img", {src: p.url, alt: t("wo.photos"), loading: "lazy"})))),
        d.state !== "closed" ? photoForm : null),
      el("div", {}, el("h4", {}, t("wo.notes")),
        el("ul", {class: "notes"}, d.notes.map((n) => el("li", {}, `${time(n.at)} ${n.author}: ${n.text}`))),
        d.state !== "closed" ? noteForm : null),
      role !== "resident" ? el("div", {}, el("h4", {}, t("wo.parts")),
        el("ul", {class: "parts"}, d.parts.map((p) => el("li", {}, `${p.name} × ${p.quantity}`))),
        working ? partForm : null) : null,
      el("div", {}, el("h4", {}, t("wo.history")),
        el("ul", {}, d.history.map((h) => el("li", {},
          `${time(h.at)} ${h.actor_text}: ${word("wo.state.", h.to_state)}${h.note ? " — " + h.note : ""}`)))));
  }

  function card(o, d) {
    const device = o.device_id ? devices.get(o.device_id) : null;
    const isNew = fresh.delete(o.id);
    return el("article", {class: `card order ${o.priority}${isNew ? " fresh" : ""}`, dataset: {order: o.id, state: o.state}},
      el("div", {class: "building-head"}, el("h3", {}, o.title),
        pill(word("wo.priority.", o.priority), PRIORITY_KIND[o.priority]),
        o.overdue ? pill(t("wo.overdue"), "bad") : null,
        pill(word("wo.state.", o.state), STATE_KIND[o.state])),
      el("div", {class: "sub"}, [`#${o.id}`, word("wo.kind.", o.kind), device, o.fault_code,
        time(o.created_at), t("wo.due", {time: time(o.due_at)}),
        o.assignee ? t("wo.assignee", {who: o.assignee}) : t("wo.unassigned")].filter(Boolean).join(" · ")),
      actions(o), d ? detail(d) : null);
  }

  async function load() {
    const state = filter ? filter.value : "";
    const page = await api("GET", `/work-orders?limit=100${state ? "&state=" + state : ""}`);
    const items = state ? page.items : page.items.filter((o) => o.state !== "closed" || role === "resident");
    const details = new Map(await Promise.all(items.filter((o) => open.has(o.id))
      .map(async (o) => [o.id, await api("GET", `/work-orders/${o.id}`)])));
    box.replaceChildren(...(items.length ? items.map((o) => card(o, details.get(o.id)))
      : [el("p", {class: "muted"}, role === "resident" ? t("repairs.none") : t("wo.none"))]));
  }

  async function start() {
    if (role !== "resident") {
      const list = await api("GET", "/devices");
      for (const d of list.items) devices.set(d.id, d.name);
    }
    await load();
  }

  const form = document.getElementById("repair-form");  // residents
  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      document.getElementById("repair-error").textContent = "";
      try {
        const files = [...form.elements.photo.files];
        const ready = await Promise.all(files.map(shrink));  // a wrong file is refused before anything is sent
        const order = await api("POST", "/work-orders", {title: form.elements.title.value.trim(),
          description: form.elements.description.value.trim(), skill: form.elements.skill.value});
        await upload(order.id, ready);
        toast(order.assignee ? t("repairs.assigned", {who: order.assignee}) : t("repairs.sent"));
        form.reset();
        await load();
      } catch (error) { document.getElementById("repair-error").textContent = error.message; }
    });
  }
  if (filter) filter.addEventListener("change", () => load().catch(toastError));
  const reload = Lintel.debounce(() => load().catch(toastError), 200);
  // The live push names the step ("assigned", "reassigned", ...): an order just given to
  // this technician is announced with a toast and a vibration, and shown at once.
  Lintel.live({work_orders: (o) => {
    if (role === "technician" && ["assigned", "reassigned"].includes(o.event) && o.assignee_id === me) {
      toast(t("wo.new", {title: o.title}), "info");
      if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
      fresh.add(o.id);
      load().catch(toastError);
      return;
    }
    if (role === "resident" && o.event === "assigned") toast(t("repairs.on_its_way", {title: o.title}));
    reload();
  }}, () => start().catch(toastError));
})();
