// The guard's patrol round, on the phone: start a route, see the next checkpoint, enter the
// code its display shows. Each reading is signed here with the phone's own Ed25519 key
// (WebCrypto; the private key is made not extractable and kept in IndexedDB, so it never
// leaves this browser) and put in the IndexedDB queue before it is sent: readings made
// offline wait there, flagged as the hub will flag them, and go when the network is back.
"use strict";
(() => {
  const {t, el, api, time, pill, toast, toastError, lang} = Lintel;
  const root = document.getElementById("patrol");
  if (!root) return;
  const user = root.dataset.user;
  const $ = (id) => document.getElementById(id);
  const state = {routes: [], checkpoints: new Map(), round: null, queue: [], refused: new Map(),
    sending: false, canSign: true,
    answers: 0};  // rounds the hub answered with (a start, a reading): a refresh older is stale

  // --- IndexedDB: the phone's key (per login) and the queue of readings not yet stored
  const db = new Promise((resolve, reject) => {
    const open = indexedDB.open("lintel-patrol", 2);
    open.onupgradeneeded = (event) => {
      if (event.oldVersion < 1) {
        open.result.createObjectStore("keys");
        open.result.createObjectStore("queue", {keyPath: "id"});
      }
      if (event.oldVersion < 2) open.result.createObjectStore("state");  // the last answers
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });

  async function store(name, mode, work) {
    const tx = (await db).transaction(name, mode);
    const request = work(tx.objectStore(name));
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }

  const base64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

  // The phone's key, made on first use and enrolled at the hub (later, if offline now).
  async function phoneKey() {
    let held = await store("keys", "readonly", (s) => s.get(user));
    if (!held) {
      const pair = await crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign", "verify"]);
      held = {privateKey: pair.privateKey,
        publicKey: base64(await crypto.subtle.exportKey("raw", pair.publicKey)), enrolled: false};
      await store("keys", "readwrite", (s) => s.put(held, user));
    }
    if (!held.enrolled) {
      try {
        await api("POST", "/patrol/keys", {public_key: held.publicKey});
      } catch (error) {
        if (error.status !== 409) throw error;  // 409: enrolled before, the answer was lost
      }
      held.enrolled = true;
      await store("keys", "readwrite", (s) => s.put(held, user));
    }
    return held;
  }

  // --- what the round looks like: the hub's readings, then the queued ones, flagged alike
  const cpName = (cp) => (lang === "zh" && cp.name_zh) || cp.name;
  const routeName = (route) => (lang === "zh" && route.name_zh) || route.name;
  const routeOf = (round) => state.routes.find((r) => r.id === round.route_id);

  function stopsOf(round) {
    const route = routeOf(round);
    if (!route) return [];
    let due = new Date(round.started_at).getTime();
    return route.stops.map((stop, n) => {
      due += stop.allowance_s * 1000;
      return {position: n + 1, code: stop.checkpoint, due,
        checkpoint: state.checkpoints.get(stop.checkpoint) || {code: stop.checkpoint, name: stop.checkpoint}};
    });
  }

  function readingsOf(round, stops) {
    const byId = new Map([...state.checkpoints.values()].map((c) => [c.id, c.code]));
    const found = round.readings.map((r) => ({code: byId.get(r.checkpoint_id), ts: r.ts,
      late: r.late, out_of_order: r.out_of_order, queued: false}));
    for (const item of state.queue.filter((q) => q.round === round.id)) {
      const stop = stops.find((s) => s.code === item.reading.checkpoint);
      found.push({code: item.reading.checkpoint, ts: item.reading.ts, queued: true,
        late: stop ? new Date(item.reading.ts).getTime() > stop.due : false});
    }
    // out of order by reading time, as the hub judges it (queued ones are judged here first)
    found.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    let furthest = 0;
    for (const r of found) {
      const position = stops.find((s) => s.code === r.code)?.position ?? 0;
      if (r.queued) r.out_of_order = position < furthest;
      furthest = Math.max(furthest, position);
    }
    return new Map(found.map((r) => [r.code, r]));
  }

  function nextStop(stops, read) {
    const furthest = Math.max(0, ...stops.filter((s) => read.has(s.code)).map((s) => s.position));
    const unread = stops.filter((s) => !read.has(s.code));
    return unread.find((s) => s.position > furthest) || unread[0] || null;
  }

  // --- drawing
  function render() {
    $("patrol-loading").hidden = true;
    $("net").textContent = navigator.onLine ? t("patrol.online") : t("patrol.offline");
    $("net").className = `pill ${navigator.onLine ? "ok" : "warn"}`;
    $("patrol-nokey").hidden = state.canSign;
    const round = state.round;
    const open = round && round.state === "open";
    $("patrol-start").hidden = Boolean(open);
    $("patrol-routes").replaceChildren(...state.routes.map((route) => el("li", {},
      el("div", {class: "grow"}, el("b", {}, routeName(route)),
        el("div", {class: "sub"}, route.every_min ? t("patrol.route_every",
          {n: route.every_min, from: route.from_hour, to: route.to_hour}) : t("patrol.on_demand"),
        " · ", t("patrol.stops", {n: route.stops.length})),
        route.waiting_since ? pill(t("patrol.waiting_since", {time: time(route.waiting_since, false)}), "warn") : null),
      el("button", {class: "primary small", disabled: !state.canSign, "data-testid": `patrol-start-${route.code}`,
        onclick: () => start(route)}, t("patrol.start")))));
    $("patrol-round").hidden = !round;
    if (!round) return;
    const stops = stopsOf(round);
    const read = readingsOf(round, stops);
    const route = routeOf(round);
    $("patrol-route-name").textContent = `${route ? routeName(route) : ""} · ${t(`patrol.state.${round.state}`)}`;
    $("patrol-progress").textContent = t("patrol.progress", {n: read.size, total: stops.length});
    const next = open ? nextStop(stops, read) : null;
    const box = $("patrol-next");
    box.classList.toggle("late", Boolean(next && Date.now() > next.due));
    if (next) {
      box.replaceChildren(el("div", {},
        el("div", {class: "muted small"}, t("patrol.next")),
        el("div", {class: "cp"}, `${next.code} · ${cpName(next.checkpoint)}`),
        next.checkpoint.location ? el("div", {class: "muted small"}, next.checkpoint.location) : null,
        el("div", {class: "small"}, Date.now() > next.due
          ? pill(t("patrol.overdue", {time: time(new Date(next.due).toISOString(), false)}), "bad")
          : t("patrol.due", {time: time(new Date(next.due).toISOString(), false)})),
        next.checkpoint.kind === "door" ? el("div", {class: "small"}, t("patrol.by_card")) : null));
    } else {
      box.replaceChildren(el("div", {class: "cp"}, round.state === "completed"
        ? t("patrol.done", {time: time(round.finished_at, false)})
        : open ? t("patrol.all_read") : t(`patrol.state.${round.state}`)));
    }
    const select = $("patrol-checkpoint");
    const choices = stops.filter((s) => !read.has(s.code) && s.checkpoint.kind !== "door");
    $("patrol-form").hidden = !open || !choices.length;
    select.replaceChildren(...choices.map((s) => el("option", {value: s.code,
      selected: next && s.code === next.code}, `${s.position}. ${s.code} · ${cpName(s.checkpoint)}`)));
    const waiting = state.queue.length;
    $("patrol-queue").textContent = waiting ? t("patrol.queue", {n: waiting}) : t("patrol.queue_none");
    $("patrol-stops").replaceChildren(...stops.map((s) => {
      const r = read.get(s.code);
      const refused = state.refused.get(`${round.id}:${s.code}`);
      return el("li", {class: r ? (r.queued ? "queued" : "read") : "", "data-checkpoint": s.code},
        el("span", {class: "pos"}, r ? "✓" : s.position),
        el("div", {class: "grow"}, `${s.code} · ${cpName(s.checkpoint)}`,
          el("div", {class: "sub"}, r ? t("patrol.read_at", {time: time(r.ts, false)})
            : t("patrol.due", {time: time(new Date(s.due).toISOString(), false)}))),
        r && r.late ? pill(t("patrol.flag.late"), "warn") : null,
        r && r.out_of_order ? pill(t("patrol.flag.out_of_order"), "warn") : null,
        r && r.queued ? pill(t("patrol.flag.waiting"), "info") : null,
        !r && refused ? pill(t("patrol.flag.refused"), "bad") : null,
        !r && round.state === "incomplete" ? pill(t("patrol.flag.missed"), "bad") : null);
    }));
  }

  // --- acting
  async function start(route) {
    try {
      await phoneKey();
      answered(await api("POST", "/patrol/rounds", {site_id: route.site_id, route: route.code}));
      await keep();
      render();
    } catch (error) {
      if (error.status === undefined) toast(t("patrol.start_offline"), "bad");
      else toastError(error);
    }
  }

  // "123456", or "CP2 123456" / "CP2:123456" as a scanner types a display's QR code
  function parseCode(text, chosen) {
    const match = /^\s*(?:([A-Za-z0-9][A-Za-z0-9_.-]*)[\s:|]+)?(\d{6})\s*$/.exec(text);
    return match ? {checkpoint: match[1] || chosen, code: match[2]} : null;
  }

  async function record(event) {
    event.preventDefault();
    const round = state.round;
    const parsed = parseCode($("patrol-code").value, $("patrol-checkpoint").value);
    if (!round || !parsed || !parsed.checkpoint) { toast(t("patrol.bad_code"), "bad"); return; }
    const key = await store("keys", "readonly", (s) => s.get(user));
    if (!key) { toast(t("patrol.no_signing"), "bad"); return; }
    const id = crypto.randomUUID();
    const ts = new Date().toISOString();  // milliseconds and "Z", as wire.patrol.reading_bytes
    const signed = ["lintel-patrol/1", round.site_id, round.id, parsed.checkpoint, parsed.code,
      ts, id].join("\n");
    const signature = await crypto.subtle.sign({name: "Ed25519"}, key.privateKey,
      new TextEncoder().encode(signed));
    const item = {id, user, round: round.id, reading: {id, checkpoint: parsed.checkpoint, ts,
      code: parsed.code, signature: base64(signature)}};
    await store("queue", "readwrite", (s) => s.put(item));  // kept before anything is sent
    $("patrol-code").value = "";
    await loadQueue();
    render();
    const sent = await sync();
    if (sent.has(id)) toast(t("patrol.recorded", {cp: parsed.checkpoint}));
    else if (state.queue.some((q) => q.id === id)) toast(t("patrol.queued", {cp: parsed.checkpoint}));
  }

  async function loadQueue() {
    state.queue = (await store("queue", "readonly", (s) => s.getAll()))
      .filter((q) => q.user === user)
      .sort((a, b) => (a.reading.ts < b.reading.ts ? -1 : a.reading.ts > b.reading.ts ? 1 : 0));
  }

  // One send at a time; asked while one runs, it runs again after it: a reading made meanwhile
  // would otherwise wait for the next timer, shown as kept for want of a network it has.
  let sending = Promise.resolve();
  function sync() {
    const run = sending.then(sendQueue);
    sending = run.catch(() => {});
    return run;
  }

  // Sends the queue oldest first, one reading a call: a refused one (a mistyped code) is taken
  // out and shown, the rest still go. A network failure keeps everything for the next try.
  async function sendQueue() {
    const sent = new Set();
    if (!navigator.onLine) return sent;
    state.sending = true;
    try {
      await loadQueue();
      if (state.queue.length) await phoneKey();
      for (const item of [...state.queue]) {
        try {
          const round = await api("POST", `/patrol/rounds/${item.round}/readings`, {readings: [item.reading]});
          if (state.round && round.id === state.round.id) answered(round);
          sent.add(item.id);
        } catch (error) {
          if (error.status === undefined || error.status >= 500 || error.status === 401) break;
          state.refused.set(`${item.round}:${item.reading.checkpoint}`, error.message);
          toast(t("patrol.refused", {cp: item.reading.checkpoint, reason: error.message}), "bad");
        }
        await store("queue", "readwrite", (s) => s.delete(item.id));
      }
    } catch (error) {
      if (error.status !== undefined) toastError(error);  // offline: the next try sends it
    } finally {
      state.sending = false;
      if (sent.size) await keep();
      await loadQueue();
      render();
    }
    return sent;
  }

  // The routes, checkpoints and the latest round from the hub, kept for a page opened offline.
  async function refresh() {
    const asked = state.answers;
    let answers;
    try {
      answers = await Promise.all([api("GET", "/patrol/routes"), api("GET", "/patrol/checkpoints"),
        api("GET", "/patrol/rounds?limit=1")]);
    } catch (error) {
      answers = await store("state", "readonly", (s) => s.get(user));
      if (error.status !== undefined || !answers) throw error;  // offline: the kept ones
    }
    const [routes, checkpoints, rounds] = answers;
    state.routes = routes.items;
    state.checkpoints = new Map(checkpoints.items.map((c) => [c.code, c]));
    const latest = rounds.items[0] || null;
    // a round answered while this was asked for is newer than this answer (a reading sent)
    if (!state.round || (latest && latest.id >= state.round.id && asked === state.answers)) {
      state.round = latest;
    }
    await keep();
  }

  function answered(round) {
    state.round = round;
    state.answers += 1;
  }

  async function keep() {
    const answers = [{items: state.routes}, {items: [...state.checkpoints.values()]},
      {items: state.round ? [state.round] : []}];
    await store("state", "readwrite", (s) => s.put(answers, user));
  }

  // WebCrypto exists in secure contexts only (HTTPS, or this machine), Ed25519 in current
  // browsers (Chromium 137+, Firefox 129+, Safari 17+)
  async function signingWorks() {
    try {
      await crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign", "verify"]);
      return true;
    } catch {
      return false;
    }
  }

  async function main() {
    state.canSign = await signingWorks();
    if (state.canSign) {
      try { await phoneKey(); } catch (error) {
        if (error.status !== undefined) toastError(error);  // offline: enrolled later
      }
    }
    await loadQueue();
    try { await refresh(); } catch (error) { toastError(error); }
    render();
    sync();
    // the page itself, kept for opening it offline (a secure context only, as WebCrypto)
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/guard/patrol/sw.js", {scope: "/guard/patrol"})
        .catch((error) => console.warn("patrol: no offline copy of the page", error));
    }
  }

  // The display's QR code ("CP2 123456") read by the phone's camera, where the browser has a
  // barcode detector (Chrome on Android, Safari); elsewhere the code is typed.
  async function scan() {
    const video = $("patrol-video");
    const stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    const detector = new BarcodeDetector({formats: ["qr_code"]});
    const until = Date.now() + 30000;
    video.srcObject = stream;
    video.hidden = false;
    try {
      await video.play();
      while (Date.now() < until) {
        const text = (await detector.detect(video))[0]?.rawValue;
        const parsed = text ? parseCode(text, null) : null;
        if (parsed && parsed.checkpoint) {
          $("patrol-checkpoint").value = parsed.checkpoint;
          $("patrol-code").value = text;
          $("patrol-form").requestSubmit();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      toast(t("patrol.scan_none"), "bad");
    } finally {
      for (const track of stream.getTracks()) track.stop();
      video.hidden = true;
    }
  }

  if ("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
    $("patrol-scan").hidden = false;
    $("patrol-scan").addEventListener("click", () => { scan().catch(toastError); });
  }
  $("patrol-form").addEventListener("submit", (event) => { record(event).catch(toastError); });
  window.addEventListener("online", () => { render(); sync(); });
  window.addEventListener("offline", render);
  setInterval(() => {  // a card read at a door reaches the round through the hub: look again
    if (!navigator.onLine) return;
    sync().then(() => (state.sending ? null : refresh())).then(render).catch(() => {});
  }, 15000);
  main();
})();
