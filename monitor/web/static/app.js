// school-monitor review app: keyboard shortcuts and in-place actions. No inline script anywhere
// (the CSP allows only this file); every text put on the page goes through textContent.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const rows = () => Array.from(document.querySelectorAll("#queue tbody tr.row"));
  const $ = (sel) => document.querySelector(sel);
  // Words come from the page (data-msg-*, data-label-*), rendered in the reader's language.
  const text = (key) => document.body.dataset[key] || key;
  const statusLabel = (status) => document.body.dataset["label" + status.charAt(0).toUpperCase() + status.slice(1)] || status;

  function say(message, kind) {
    const box = $("#flash");
    if (!box) return;
    const p = document.createElement("p");
    p.className = "msg " + (kind || "info");
    p.textContent = message;
    box.replaceChildren(p);
  }

  function selected() {
    return document.querySelector("#queue tbody tr.row.selected");
  }

  function select(row) {
    rows().forEach((r) => r.classList.remove("selected"));
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(selected());
    const next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  function currentItem() {
    const page = document.body.dataset.itemId;
    if (page) return { id: page, row: null };
    const row = selected();
    return row ? { id: row.dataset.id, row: row } : null;
  }

  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    body.set("csrf_token", csrf());
    const response = await fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf() },
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = { detail: text("msgUnexpected") + " (" + response.status + ")" };
    }
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    }
    return { ok: response.ok && data.ok !== false, data: data };
  }

  async function decide(status, extra) {
    const target = currentItem();
    if (!target) {
      say(text("msgSelect"), "error");
      return;
    }
    const fields = Object.assign({ status: status }, extra || {});
    const result = await post("/items/" + target.id + "/decide", fields);
    if (!result.ok) {
      say(result.data.detail || text("msgRefused"), "error");
      return;
    }
    if (target.row) {
      target.row.querySelector(".status").textContent = statusLabel(status);
      target.row.classList.add("decided");
      say(result.data.message, "ok");
      move(1);
    } else {
      window.location.reload();
    }
  }

  async function note(text) {
    const target = currentItem();
    if (!target || !text.trim()) return;
    const result = await post("/items/" + target.id + "/note", { note: text });
    say(result.ok ? text("msgNote") : result.data.detail || text("msgRefused"), result.ok ? "ok" : "error");
    if (result.ok && !target.row) window.location.reload();
  }

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
    return dialog;
  }

  function typing(event) {
    const tag = (event.target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const dismiss = $("#dismiss-dialog");
    if (dismiss && dismiss.open && /^[1-9]$/.test(event.key)) {
      const choice = dismiss.querySelectorAll('input[name="reason"]')[Number(event.key) - 1];
      if (choice) choice.checked = true;
      event.preventDefault();
      return;
    }
    if (typing(event) || document.querySelector("dialog[open]")) return;
    const canAct = !!document.querySelector("#bulk, .actions");
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
      case "Enter": {
        const row = selected();
        if (row) window.location.href = row.dataset.href;
        else return;
        break;
      }
      case "x": {
        const box = selected() && selected().querySelector('input[type="checkbox"]');
        if (box) box.checked = !box.checked;
        break;
      }
      case "c": if (canAct) decide("confirmed"); break;
      case "e": if (canAct) decide("escalated"); break;
      case "d": if (canAct && currentItem()) openDialog("dismiss-dialog"); break;
      case "n": if (canAct && currentItem()) { openDialog("note-dialog"); $("#note-text").focus(); } break;
      case "?": openDialog("help"); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", () => {
    // Filters are folded behind a button on a phone and open on a wide screen.
    const filters = $("#filters-box");
    if (filters && window.matchMedia("(min-width: 760px)").matches) filters.open = true;
    document.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (event) => {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    }));
    document.querySelectorAll("[data-help]").forEach((b) => b.addEventListener("click", () => openDialog("help")));
    document.querySelectorAll("dialog [data-close]").forEach((b) =>
      b.addEventListener("click", () => b.closest("dialog").close("cancel")));
    const dismiss = $("#dismiss-dialog");
    if (dismiss) {
      dismiss.addEventListener("close", () => {
        if (dismiss.returnValue !== "ok") return;
        const reason = dismiss.querySelector('input[name="reason"]:checked');
        decide("dismissed", { reason: reason ? reason.value : "other" });
        dismiss.returnValue = "";
      });
    }
    const noteDialog = $("#note-dialog");
    if (noteDialog) {
      noteDialog.addEventListener("close", () => {
        if (noteDialog.returnValue !== "ok") return;
        note($("#note-text").value);
        $("#note-text").value = "";
        noteDialog.returnValue = "";
      });
    }
    rows().forEach((row) =>
      row.addEventListener("click", (event) => {
        if (event.target.closest("a, input, button")) return;
        select(row);
      }));
    if (rows().length && !selected()) select(rows()[0]);
  });
})();
