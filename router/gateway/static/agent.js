// The agent desktop over /v1/agent: login, state, offers with a countdown, a chat pane per contact,
// complete with a disposition, transfer. After a dropped connection it logs in again by itself; the
// server resumes the session (open contacts and offers) within its grace period.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "omniroute.agent";
  let creds = JSON.parse(sessionStorage.getItem(KEY) || "null"); // {agent, token}
  let queues = [];
  const offers = new Map(); // offer id -> {card, timer}
  const panes = new Map(); // contact id -> {card, transcript, seen, state}

  const conn = Omni.connect("/v1/agent", {
    status(text, ok) { $("conn").textContent = text; $("conn").className = "conn" + (ok ? " ok" : ""); },
    open() { if (creds) login(); },
    push(msg) {
      switch (msg.type) {
        case "offer": showOffer(msg); break;
        case "offer_revoked": dropOffer(msg.offer, "The offer was withdrawn (" + (msg.reason || "revoked") + ")."); break;
        case "message": addLine(msg.contact, msg); break;
        case "state": setState(msg.state, msg.reason); break;
        case "wrapup_ended": closePane(msg.contact); break;
        case "contact_removed":
          closePane(msg.contact);
          Omni.notify("A contact went back to its queue (" + msg.reason + ").", "info");
          break;
        case "error":
          Omni.notify(Omni.errorText(msg));
          if (msg.code === "replaced") { creds = null; sessionStorage.removeItem(KEY); conn.close(); }
          break;
      }
    },
  });

  async function login() {
    try {
      const ack = await conn.call("login", creds);
      sessionStorage.setItem(KEY, JSON.stringify(creds));
      $("login-panel").hidden = true;
      $("desk").hidden = false;
      $("who").textContent = "— " + ack.name + " (" + ack.agent + ")";
      queues = ack.queues || [];
      $("queues").textContent = "Queues: " + queues.join(", ");
      setState(ack.state, ack.reason);
      for (const c of ack.contacts || []) openPane(c);
      for (const o of ack.offers || []) showOffer(o);
      if (ack.resumed) Omni.notify("Session resumed.", "info"); else Omni.notify("");
    } catch (err) {
      if (err.code === "disconnected") return;
      creds = null;
      sessionStorage.removeItem(KEY);
      $("login-panel").hidden = false;
      $("desk").hidden = true;
      Omni.notify(Omni.errorText(err));
    }
  }

  function setState(state, reason) {
    const badge = $("state-badge");
    badge.textContent = state + (reason ? " · " + reason : "");
    badge.className = "badge " + state;
    badge.dataset.state = state;
  }

  async function act(type, body) {
    try {
      Omni.notify("");
      return await conn.call(type, body);
    } catch (err) {
      Omni.notify(Omni.errorText(err));
      return null;
    }
  }

  function attrsList(contact) {
    const dl = Omni.el("dl", { class: "attrs" });
    const rows = [["Channel", contact.channel], ["Queue", contact.queue], ["Waited", Omni.duration(contact.waited)]];
    for (const [k, v] of Object.entries(contact.attrs || {})) rows.push([k, v]);
    if (contact.customer && contact.customer.id) rows.push(["Customer", contact.customer.id]);
    for (const [k, v] of rows) dl.append(Omni.el("dt", {}, k), Omni.el("dd", {}, typeof v === "object" ? JSON.stringify(v) : v));
    return dl;
  }

  function historyList(contact) {
    const items = contact.history || [];
    if (!items.length) return Omni.el("p", { class: "muted" }, "No earlier contacts.");
    const ul = Omni.el("ul", { class: "history", "aria-label": "Customer history" });
    for (const h of items) {
      // timeline entries across channels (customers/): kind, channel, agent, time, and what happened
      const d = h.data || {};
      const what = d.text !== undefined ? (d.who ? d.who + ": " : "") + d.text
        : d.code || (d.score !== undefined ? "score " + d.score : "") || d.queue || d.to_queue || d.to_uri || d.outcome || "";
      ul.append(Omni.el("li", { "data-kind": h.kind },
        [Omni.time(h.at), h.channel, h.kind, what, h.agent].filter(Boolean).join(" · ")));
    }
    return ul;
  }

  // The customer's profile: identifiers, and linking or merging (a desk agent fixing who is who).
  function profileBox(c) {
    const customer = c.customer || {};
    if (!customer.id) return null;
    const ids = Omni.el("p", { class: "muted", "data-testid": "profile-ids" },
                        "Customer " + customer.id + ": " + (customer.identifiers || []).join(", "));
    const kind = Omni.el("select", { "aria-label": "Identifier kind", "data-testid": "profile-kind" },
                         ...["phone", "email", "crm"].map((k) => Omni.el("option", { value: k }, k)));
    const value = Omni.el("input", { "aria-label": "Identifier", "data-testid": "profile-value" });
    const link = Omni.el("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      if (!value.value.trim()) return;
      if (await act("link", { customer: customer.id, kind: kind.value, value: value.value.trim() })) {
        ids.textContent += ", " + kind.value + ":" + value.value.trim();
        value.value = "";
      }
    } }, kind, value, Omni.el("button", { type: "submit", class: "secondary", "data-testid": "profile-link" }, "Link"));
    const other = Omni.el("input", { "aria-label": "Other customer id", "data-testid": "profile-other", placeholder: "customer id" });
    const undo = Omni.el("button", { type: "button", class: "secondary", hidden: true, "data-testid": "profile-undo" }, "Undo merge");
    const merge = Omni.el("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      if (!other.value.trim()) return;
      const ack = await act("merge", { into: customer.id, other: other.value.trim() });
      if (ack) {
        Omni.notify("Merged " + ack.other + " into " + ack.into + ".", "info");
        undo.hidden = false;
        undo.onclick = async () => { if (await act("unmerge", { merge: ack.merge })) { undo.hidden = true; Omni.notify("Merge undone.", "info"); } };
      }
    } }, other, Omni.el("button", { type: "submit", class: "secondary", "data-testid": "profile-merge" }, "Merge into this customer"), undo);
    return Omni.el("details", { "data-testid": "profile" }, Omni.el("summary", {}, "Customer profile"), ids, link, merge);
  }

  function transcriptPreview(contact) {
    const ol = Omni.el("ol", { class: "transcript", style: "height:auto;max-height:8rem" });
    for (const m of contact.transcript || []) ol.append(Omni.el("li", { class: m.from === "agent" ? "mine" : "" }, m.text));
    return ol;
  }

  function showOffer(msg) {
    if (offers.has(msg.offer)) return;
    const c = msg.contact;
    const deadline = Date.now() + (msg.expires_in || 0) * 1000;
    const countdown = Omni.el("span", { class: "countdown", "data-testid": "offer-countdown" });
    const accept = Omni.el("button", { type: "button", "data-testid": "offer-accept", onclick: async () => {
      accept.disabled = reject.disabled = true;
      const ack = await act("accept", { offer: msg.offer });
      dropOffer(msg.offer);
      if (ack) openPane(ack.contact);
    } }, "Accept");
    const reject = Omni.el("button", { type: "button", class: "secondary", "data-testid": "offer-reject", onclick: async () => {
      accept.disabled = reject.disabled = true;
      await act("reject", { offer: msg.offer });
      dropOffer(msg.offer);
    } }, "Reject");
    const card = Omni.el("section", { class: "panel offer", role: "alertdialog", "aria-label": "Incoming " + c.channel,
                                      "data-testid": "offer", "data-contact": c.id,
                                      "data-offer": msg.offer },
      Omni.el("h2", {}, "Incoming " + c.channel + " — " + (c.attrs && c.attrs.name ? c.attrs.name : "customer"),
              " · expires in ", countdown),
      attrsList(c), Omni.el("h3", {}, "History"), historyList(c), Omni.el("h3", {}, "Conversation so far"),
      transcriptPreview(c), Omni.el("div", { class: "row" }, accept, reject));
    const tick = () => { countdown.textContent = Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) + " s"; };
    tick();
    offers.set(msg.offer, { card, timer: setInterval(tick, 250) });
    $("offers").append(card);
  }

  function dropOffer(offerId, why) {
    const o = offers.get(offerId);
    if (!o) return;
    clearInterval(o.timer);
    o.card.remove();
    offers.delete(offerId);
    if (why) Omni.notify(why, "info");
  }

  function openPane(c) {
    if (panes.has(c.id)) return;
    const transcript = Omni.el("ol", { class: "transcript", "aria-label": "Messages", "aria-live": "polite",
                                       "data-testid": "pane-transcript" });
    const text = Omni.el("input", { autocomplete: "off", "data-testid": "pane-text", "aria-label": "Message" });
    const send = Omni.el("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (!value) return;
      if (await act("message", { contact: c.id, text: value })) text.value = "";
    } }, Omni.el("label", { style: "flex:1" }, "Reply", text), Omni.el("button", { type: "submit", "data-testid": "pane-send" }, "Send"));
    const disposition = Omni.el("select", { "data-testid": "pane-disposition" });
    disposition.append($("dispositions").content.cloneNode(true));
    const note = Omni.el("input", { "data-testid": "pane-note", placeholder: "optional" });
    const completeBtn = Omni.el("button", { type: "submit", "data-testid": "pane-complete" }, "Complete");
    const complete = Omni.el("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      const ack = await act("complete", { contact: c.id, disposition: disposition.value, note: note.value.trim() });
      if (ack) ended(c.id, ack);
    } }, Omni.el("label", {}, "Disposition", disposition), Omni.el("label", {}, "Note", note), completeBtn);
    const queueList = Omni.el("datalist", { id: "queues-" + c.id });
    for (const q of queues) queueList.append(Omni.el("option", { value: q }));
    // a call may also leave the center for a SIP URI on ivr.transfer_allow (the contact then goes to wrap-up)
    const voice = c.channel === "voice";
    const target = Omni.el("input", { list: "queues-" + c.id, "data-testid": "pane-transfer-queue",
                                      placeholder: voice ? "queue or sip:..." : "queue" });
    const transfer = Omni.el("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      const to = target.value.trim();
      if (!to) return;
      const out = voice && /^sips?:/.test(to);
      const ack = await act("transfer", out ? { contact: c.id, uri: to } : { contact: c.id, queue: to });
      if (ack && out) {
        ended(c.id, ack);
        Omni.notify("Call transferred to " + to + ".", "info");
      } else if (ack) {
        closePane(c.id);
        Omni.notify("Transferred to " + to + ".", "info");
      }
    } }, Omni.el("label", {}, voice ? "Transfer to queue or SIP URI" : "Transfer to queue", target), queueList,
       Omni.el("button", { type: "submit", class: "secondary", "data-testid": "pane-transfer" }, "Transfer"));
    const status = Omni.el("p", { class: "muted", "data-testid": "pane-status" });
    const endWrapup = Omni.el("button", { type: "button", class: "secondary", hidden: true, "data-testid": "pane-end-wrapup",
                                          onclick: async () => { if (await act("end_wrapup", { contact: c.id })) closePane(c.id); } },
                              "End wrap-up");
    const card = Omni.el("section", { class: "panel", "data-testid": "pane", "data-contact": c.id,
                                      "aria-label": c.channel + " with " + ((c.attrs && c.attrs.name) || "customer") },
      Omni.el("h2", {}, c.channel + " — " + ((c.attrs && c.attrs.name) || "customer")),
      attrsList(c), Omni.el("details", {}, Omni.el("summary", {}, "History"), historyList(c)), profileBox(c),
      transcript, send, complete, transfer, Omni.el("div", { class: "row" }, status, endWrapup));
    const pane = { card, transcript, seen: new Set(), forms: [send, complete, transfer], status, endWrapup };
    panes.set(c.id, pane);
    $("contacts").append(card);
    $("idle").hidden = true;
    for (const m of c.transcript || []) addLine(c.id, m);
    if (c.state === "wrapup") wrapup(c.id, null);
  }

  function addLine(contactId, m) {
    const pane = panes.get(contactId);
    if (!pane) return;
    if (m.seq !== undefined) {
      if (pane.seen.has(m.seq)) return;
      pane.seen.add(m.seq);
    }
    const who = m.from === "agent" ? "You" : m.from === "customer" ? "Customer" : "";
    pane.transcript.append(Omni.el("li", { class: m.from === "agent" ? "mine" : m.from === "system" ? "system" : "",
                                           "data-from": m.from },
      who ? Omni.el("span", { class: "who" }, who + (m.at ? " · " + Omni.time(m.at) : "")) : null, m.text));
    pane.transcript.scrollTop = pane.transcript.scrollHeight;
  }

  function wrapup(contactId, until) {
    const pane = panes.get(contactId);
    if (!pane) return;
    for (const form of pane.forms) for (const field of form.elements) field.disabled = true;
    pane.card.dataset.state = "wrapup";
    pane.status.textContent = "Completed — in wrap-up" + (until ? " until " + Omni.time(until) : "") + ".";
    pane.endWrapup.hidden = false;
  }

  // The reply to complete or to a transfer out: in wrap-up until the time it names, or done (no wrap-up).
  function ended(contactId, ack) {
    if (ack.wrapup_until) wrapup(contactId, ack.wrapup_until);
    else closePane(contactId);
  }

  function closePane(contactId) {
    const pane = panes.get(contactId);
    if (!pane) return;
    pane.card.remove();
    panes.delete(contactId);
    $("idle").hidden = panes.size > 0;
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    creds = { agent: $("agent-id").value.trim(), token: $("agent-token").value };
    login();
  });
  $("go-available").addEventListener("click", async () => {
    const ack = await act("state", { state: "available" });
    if (ack) setState(ack.state, ack.reason);
  });
  $("go-away").addEventListener("click", async () => {
    const ack = await act("state", { state: "away", reason: $("away-reason").value });
    if (ack) setState(ack.state, ack.reason);
  });
  $("go-offline").addEventListener("click", async () => {
    const ack = await act("state", { state: "offline" });
    if (ack) setState(ack.state, ack.reason);
  });
})();
