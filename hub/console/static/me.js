// The resident's dynamic door QR code: drawn by the hub as SVG, replaced before it expires.
"use strict";
(() => {
  const {t, toastError} = Lintel;
  const img = document.getElementById("my-qr");
  if (!img) return;
  const countdown = document.getElementById("my-qr-countdown");
  let left = 0;

  async function refresh() {
    try {
      const resp = await fetch(`/api/v1/me/qr?format=svg`, {credentials: "same-origin", cache: "no-store"});
      if (resp.status === 401) { location.href = "/login?next=/me"; return; }
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const old = img.src;
      img.src = URL.createObjectURL(await resp.blob());
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      img.dataset.token = resp.headers.get("X-Lintel-Token");  // the text the code holds
      left = Number(resp.headers.get("Refresh")) || 30;
    } catch (error) { toastError(error); left = 5; }
  }

  setInterval(() => {
    left -= 1;
    if (left <= 0) { left = 30; refresh(); }
    countdown.textContent = t("me.refresh_in", {s: Math.max(left, 0)});
  }, 1000);
  refresh();
})();
