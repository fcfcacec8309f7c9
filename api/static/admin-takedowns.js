// Takedowns from the admin pages: take a product's photo down, or undo a takedown, then reload.
(() => {
  "use strict";
  const token = () => document.querySelector('meta[name="csrf-token"]').content;  // the session's anti-forgery token (api/auth.py)
  const status = (text) => { const el = document.getElementById("takedown-status"); if (el) el.textContent = text; };

  async function send(url, body) {
    const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": token() }, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error ? answer.error.message : `The server answered ${response.status}.`);
    return answer;
  }

  for (const form of document.querySelectorAll("form.take-down")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await send("/admin/api/takedowns", { product_id: form.dataset.product, image: data.get("image"), reason: data.get("reason"), operator: data.get("operator") });
        location.reload();
      } catch (error) { status(error.message); }
    });
  }
  for (const form of document.querySelectorAll("form.undo-takedown")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await send(`/admin/api/takedowns/${encodeURIComponent(form.dataset.takedown)}/undo`, { reason: data.get("reason"), operator: data.get("operator") });
        location.reload();
      } catch (error) { status(error.message); }
    });
  }
})();
