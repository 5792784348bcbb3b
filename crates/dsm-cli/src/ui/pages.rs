//! The web wallet's pages: plain HTML, every field labelled, every text from the wallet
//! escaped ([`esc`]), no inline script or style (the CSP forbids both).

use crate::online_cmd::{node_set, online_error, settlement_text};
use crate::wallet_cmd::{entry_word, find_contact, outgoing, short, utc_text, OpenWallet, Via};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use dsm_core::codec::Canonical;
use dsm_wallet::summary::WalletSummary;
use dsm_wallet::EntryKind;
use std::time::Duration;

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The verifier bundle, loaded (before the page script) on pages that show receipts.
const VERIFIER: &str = "<script src=\"/assets/verify.js\"></script>";

/// How long an offline send waits for its receiver.
const OFFLINE_WAIT: Duration = Duration::from_secs(60);

const NAV: [(&str, &str); 8] = [
    ("/", "Balances"),
    ("/history", "History"),
    ("/contacts", "Contacts"),
    ("/send", "Send"),
    ("/receive", "Receive"),
    ("/tokens", "Tokens"),
    ("/status", "Evidence, backup, nodes"),
    ("/verify", "Verify a receipt file"),
];

/// The page frame: title, navigation (the current page marked for screen readers), an
/// optional message from the last change, and `body` (already HTML).
fn page(title: &str, current: &str, flash: Option<&str>, body: &str) -> Response {
    page_with(title, current, flash, body, "")
}

/// [`page`] with extra `<head>` content (already HTML).
fn page_with(title: &str, current: &str, flash: Option<&str>, body: &str, head: &str) -> Response {
    let mut nav = String::new();
    for (href, label) in NAV {
        let cur = if href == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!("<li><a href=\"{href}\"{cur}>{label}</a></li>"));
    }
    let flash = flash
        .map(|m| format!("<p class=\"flash\" role=\"status\">{}</p>", esc(m)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — DSM wallet</title>{head}<link rel=\"stylesheet\" href=\"/assets/ui.css\">\
         <script type=\"module\" src=\"/assets/ui.js\"></script></head>\
         <body><header><nav aria-label=\"Wallet\"><ul>{nav}</ul></nav></header>\
         <main><h1>{t}</h1>{flash}{body}</main></body></html>\n",
        t = esc(title)
    ))
    .into_response()
}

/// A page that only says what went wrong.
pub(crate) fn problem(msg: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>DSM wallet</title></head>\
         <body><main><p role=\"alert\">{}</p></main></body></html>\n",
        esc(msg)
    ))
}

/// [`problem`] with a link back.
pub(crate) fn problem_with_link(msg: &str, back: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>DSM wallet</title></head>\
         <body><main><p role=\"alert\">{}</p><p><a href=\"{}\">Back</a></p></main></body></html>\n",
        esc(msg),
        esc(back)
    ))
}

fn failed(what: &str, e: impl std::fmt::Display) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        problem(&format!("{what}: {e}")),
    )
        .into_response()
}

fn summary(w: &OpenWallet) -> Result<WalletSummary, Box<Response>> {
    w.summary()
        .map_err(|e| Box::new(failed("cannot read the wallet", e)))
}

fn nonce_field(nonce: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"nonce\" value=\"{}\">",
        esc(nonce)
    )
}

/// Balances (with the token's decimals), amounts in flight, and a button to sync.
pub(crate) fn home(w: &mut OpenWallet, nonce: &str, flash: Option<&str>) -> Response {
    let v = match summary(w) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut body = String::from("<section aria-labelledby=\"bal\"><h2 id=\"bal\">Balances</h2>");
    if v.balances.is_empty() {
        body.push_str("<p>No balance yet.</p>");
    } else {
        body.push_str("<table><thead><tr><th scope=\"col\">Token</th><th scope=\"col\">Amount</th><th scope=\"col\">Note</th></tr></thead><tbody>");
        for b in &v.balances {
            let t = v.token(&b.token);
            let mut note = Vec::new();
            if b.in_conflict.0 > 0 {
                note.push(format!("{} in conflict", t.amount_text(b.in_conflict)));
            }
            if let Some(a) = &b.refresh_advice {
                note.push(a.clone());
            }
            body.push_str(&format!(
                "<tr><td>{}</td><td class=\"amount\" data-token=\"{}\">{}</td><td>{}</td></tr>",
                esc(&t.label),
                esc(&t.label),
                esc(&t.amount_text(b.amount)),
                esc(&note.join("; "))
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section><section aria-labelledby=\"fl\"><h2 id=\"fl\">In flight</h2>");
    if v.in_flight.is_empty() {
        body.push_str("<p>Nothing in flight.</p>");
    } else {
        body.push_str("<ul>");
        for t in &v.in_flight {
            let tv = v.token(&t.token);
            body.push_str(&format!(
                "<li>{} to {}, waiting for its receiver</li>",
                esc(&tv.describe(t.amount)),
                esc(&v.peer_name(&t.peer))
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "</section><form method=\"post\" action=\"/sync\">{}<button type=\"submit\">Sync with the storage nodes</button></form>\
         <p>Device <code>{}</code>, height {}.</p>",
        nonce_field(nonce),
        esc(short(&v.device)),
        v.height
    ));
    page("Balances", "/", flash, &body)
}

/// Every history line, newest first, with its status and settlement; a line with a
/// receipt links to the page that verifies it.
pub(crate) fn history(w: &mut OpenWallet) -> Response {
    let v = match summary(w) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut body = String::new();
    if v.history.is_empty() {
        body.push_str("<p>No history yet.</p>");
    } else {
        body.push_str("<table><thead><tr><th scope=\"col\">Height</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">What</th><th scope=\"col\">With</th><th scope=\"col\">Amount</th><th scope=\"col\">Status</th><th scope=\"col\">Settled (reported by the wallet)</th><th scope=\"col\">Receipt</th></tr></thead><tbody>");
        for e in v.history.iter().rev() {
            let tv = e.token.map(|t| v.token(&t.digest().to_hex()));
            let amount = match (&tv, e.amount) {
                (Some(t), Some(a)) => t.describe(a),
                (None, Some(a)) => a.0.to_string(),
                _ => String::new(),
            };
            let sign = match e.kind {
                EntryKind::Sent
                | EntryKind::Burned
                | EntryKind::VaultLocked
                | EntryKind::WithdrawalRequested => "−",
                EntryKind::Refused | EntryKind::Succession => "",
                _ => "+",
            };
            let with = e
                .peer
                .map(|d| v.peer_name(&d.digest().to_hex()))
                .unwrap_or_default();
            let settled = e
                .settlement
                .map(|s| dsm_core::word::Word::word(s).to_string())
                .unwrap_or_else(|| "not yet".into());
            let receipt = e
                .receipt
                .map(|r| {
                    let h = r.to_hex();
                    format!("<a href=\"/receipt/{}\">{}</a>", esc(&h), esc(short(&h)))
                })
                .unwrap_or_default();
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td class=\"settled\">{}</td><td>{}</td></tr>",
                e.height,
                e.time.map(utc_text).unwrap_or_default(),
                entry_word(&e.kind),
                esc(&with),
                sign,
                esc(&amount),
                esc(&e.status.to_string()),
                esc(&settled),
                receipt
            ));
        }
        body.push_str("</tbody></table>");
    }
    page("History", "/history", None, &body)
}

/// One receipt: its canonical bytes for the page's verifier, which decides and shows what
/// it decoded. The server adds only what it alone knows (whether the nodes settled it),
/// labelled as such; it never sends a verdict.
pub(crate) fn receipt(w: &mut OpenWallet, id: &str) -> Response {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (
            StatusCode::BAD_REQUEST,
            problem("a receipt id is at least 8 hex digits"),
        )
            .into_response();
    }
    let r = match w.receipt(id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                problem_with_link("no receipt with that id in this wallet", "/history"),
            )
                .into_response()
        }
        Err(e) => return failed("cannot read the receipt", e),
    };
    let commit = r.proposal.proposal.commit();
    let settled = w
        .summary()
        .ok()
        .and_then(|v| {
            v.history
                .iter()
                .find(|e| e.receipt == Some(commit))
                .and_then(|e| e.settlement)
        })
        .map(|s| dsm_core::word::Word::word(s).to_string())
        .unwrap_or_else(|| "not yet".into());
    let body = format!(
        "<section class=\"receipt\" data-receipt=\"{hex}\" aria-live=\"polite\">\
         <h2>What this page verified</h2>\
         <p class=\"verdict\" data-state=\"checking\">Checking…</p>\
         <dl class=\"checks\"></dl>\
         <h2>What the page decoded (from the verified bytes only)</h2><dl class=\"facts\"></dl></section>\
         <section><h2>Reported by the wallet, not verified here</h2>\
         <dl><dt>Settled at the storage nodes</dt><dd>{settled}</dd></dl></section>\
         <p><a href=\"/history\">Back to the history</a></p>",
        hex = hex::encode(r.to_bytes()),
        settled = esc(&settled)
    );
    page_with(
        &format!("Receipt {}", short(&commit.to_hex())),
        "/history",
        None,
        &body,
        VERIFIER,
    )
}

/// Contacts, this wallet's own card, and a form to add a card by pasting it.
pub(crate) fn contacts(w: &mut OpenWallet, nonce: &str, flash: Option<&str>) -> Response {
    let v = match summary(w) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut body = String::from("<section aria-labelledby=\"cl\"><h2 id=\"cl\">Contacts</h2>");
    if v.contacts.is_empty() {
        body.push_str("<p>No contacts yet.</p>");
    } else {
        body.push_str("<ul class=\"contacts\">");
        for c in &v.contacts {
            body.push_str(&format!(
                "<li>{} <code>{}</code></li>",
                esc(&c.name),
                esc(short(&c.device))
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "</section><section aria-labelledby=\"add\"><h2 id=\"add\">Add a contact</h2>\
         <form method=\"post\" action=\"/contacts\">{}\
         <p><label for=\"card\">Their card (as `dsm card` prints it)</label><br>\
         <textarea id=\"card\" name=\"card\" rows=\"4\" cols=\"80\" required autocomplete=\"off\" spellcheck=\"false\"></textarea></p>\
         <p><label for=\"cname\">Name (optional: the card's own name otherwise)</label><br>\
         <input id=\"cname\" name=\"name\" autocomplete=\"off\"></p>\
         <p><button type=\"submit\">Add contact</button></p></form></section>\
         <section aria-labelledby=\"qr\"><h2 id=\"qr\">Add a contact from a QR image</h2>\
         <form method=\"post\" action=\"/contacts/qr\" enctype=\"multipart/form-data\">{}\
         <p><label for=\"image\">A PNG of their card's QR code (at most 8 MiB)</label><br>\
         <input type=\"file\" id=\"image\" name=\"image\" accept=\"image/png\" required></p>\
         <p><label for=\"qname\">Name (optional)</label><br><input id=\"qname\" name=\"name\" autocomplete=\"off\"></p>\
         <p><button type=\"submit\">Add from image</button></p></form></section>\
         <section aria-labelledby=\"mine\"><h2 id=\"mine\">This wallet's card</h2>\
         <p><img src=\"/card.png\" alt=\"This wallet's card as a QR code\"></p>\
         <p><label for=\"mycard\">Give this to whoever pays you</label><br>\
         <textarea id=\"mycard\" rows=\"4\" cols=\"80\" readonly>{}</textarea></p></section>",
        nonce_field(nonce),
        nonce_field(nonce),
        esc(&v.card)
    ));
    page("Contacts", "/contacts", flash, &body)
}

/// The send form: contact, token, amount, and how (online through the nodes, or offline
/// through a shared directory that the receiver's `dsm receive --file DIR` watches).
pub(crate) fn send_form(w: &mut OpenWallet, nonce: &str, flash: Option<&str>) -> Response {
    let v = match summary(w) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut contacts = String::new();
    for c in &v.contacts {
        contacts.push_str(&format!(
            "<option value=\"{n}\">{n}</option>",
            n = esc(&c.name)
        ));
    }
    let mut tokens = String::new();
    for b in &v.balances {
        let t = v.token(&b.token);
        tokens.push_str(&format!(
            "<option value=\"{l}\">{l} (you hold {a})</option>",
            l = esc(&t.label),
            a = esc(&t.amount_text(b.amount))
        ));
    }
    let body = format!(
        "<form method=\"post\" action=\"/send\">{}\
         <p><label for=\"to\">To</label><br><select id=\"to\" name=\"to\" required>{contacts}</select></p>\
         <p><label for=\"token\">Token</label><br><select id=\"token\" name=\"token\">{tokens}</select></p>\
         <p><label for=\"amount\">Amount</label><br><input id=\"amount\" name=\"amount\" inputmode=\"decimal\" autocomplete=\"off\" required></p>\
         <fieldset><legend>How</legend>\
         <p><input type=\"radio\" id=\"how-online\" name=\"how\" value=\"online\" checked> <label for=\"how-online\">Online, through the storage nodes (the receiver collects it when it syncs)</label></p>\
         <p><input type=\"radio\" id=\"how-file\" name=\"how\" value=\"file\"> <label for=\"how-file\">Offline, through a shared directory (the receiver runs <code>dsm receive --file DIR</code>)</label></p>\
         <p><input type=\"radio\" id=\"how-qr\" name=\"how\" value=\"qr\"> <label for=\"how-qr\">Offline, as QR frames shown on this screen and written to a shared directory (the receiver runs <code>dsm receive --via qr --at DIR</code>)</label></p>\
         <p><label for=\"dir\">Shared directory (offline only)</label><br><input id=\"dir\" name=\"dir\" autocomplete=\"off\"></p>\
         </fieldset><p><button type=\"submit\">Send</button></p></form>",
        nonce_field(nonce)
    );
    page("Send", "/send", flash, &body)
}

/// Sends as the form asked; returns what happened, for people. A QR send tells `frames`
/// the directory its frames go to before the session starts, so the page can show them.
pub(crate) fn send(
    w: &mut OpenWallet,
    to: &str,
    token: Option<&str>,
    amount: &str,
    how: &str,
    dir: Option<&str>,
    frames: &dyn Fn(&std::path::Path),
) -> String {
    let mut run = || -> Result<String, crate::wallet_cmd::CliError> {
        let contact = find_contact(w, to)?;
        let peer = contact.device_id()?;
        let (view, amount) = outgoing(w, &peer, amount, token.filter(|t| !t.is_empty()))?;
        match how {
            "online" => {
                let nodes = node_set(w)?;
                let sent = dsm_wallet::online::send_online(w, &nodes, &peer, view.id, amount)
                    .map_err(online_error)?;
                let posted = match &sent.posted {
                    Ok(n) => format!("posted to {}'s b0x on {n} nodes", contact.name),
                    Err(e) => format!("not posted yet ({e}); Sync posts it again"),
                };
                Ok(format!(
                    "Sent {} to {} online: debited, {}; {posted}.",
                    view.describe(amount),
                    contact.name,
                    settlement_text(&sent.settlement)
                ))
            }
            "file" | "qr" => {
                let dir = dir
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| {
                        crate::wallet_cmd::input(
                            "give the shared directory to send offline through",
                        )
                    })?;
                let mut link: Box<dyn dsm_transport::Link> = if how == "qr" {
                    let link = dsm_qr::QrDirLink::dial(
                        std::path::Path::new(dir),
                        OFFLINE_WAIT,
                        dsm_qr::QrOptions::default(),
                    )
                    .map_err(|e| {
                        crate::wallet_cmd::CliError::new(
                            crate::wallet_cmd::exit::INCOMPLETE,
                            format!("cannot use {dir}: {e}"),
                        )
                    })?;
                    frames(link.path());
                    Box::new(link)
                } else {
                    crate::wallet_cmd::dial(&Via::Dir(dir.into()), OFFLINE_WAIT)?
                };
                let mut session =
                    dsm_protocol::session::Session::dialer(peer, vec![(view.id, amount)]);
                let r = dsm_wallet::driver::run(&mut session, &mut **w, link.as_mut());
                if r.completed.iter().any(|c| c.outgoing && !c.resumed) {
                    Ok(format!(
                        "Sent {} to {} offline: final (their acceptance is stored).",
                        view.describe(amount),
                        contact.name
                    ))
                } else {
                    Err(match &r.error {
                        Some(e) => crate::wallet_cmd::incomplete(w, &peer, e),
                        None => crate::wallet_cmd::input(format!(
                            "{} refused the transfer; nothing was paid",
                            contact.name
                        )),
                    })
                }
            }
            _ => Err(crate::wallet_cmd::input("choose online, offline or QR")),
        }
    };
    match run() {
        Ok(m) => m,
        Err(e) => format!("Not sent: {}", e.msg),
    }
}

/// One sync with the storage nodes; returns what it did, for people.
pub(crate) fn sync(w: &mut OpenWallet) -> String {
    let nodes = match node_set(w) {
        Ok(n) => n,
        Err(e) => return format!("Not synced: {}", e.msg),
    };
    match dsm_wallet::online::sync(w, &nodes) {
        Ok(r) => format!(
            "Synced: {} received, {} of your transfers completed, {} settled lines checked{}.",
            r.received.len(),
            r.stitched.len(),
            r.settled.len(),
            if r.waiting.is_empty() {
                String::new()
            } else {
                format!(", {} waiting", r.waiting.len())
            }
        ),
        Err(e) => format!("Not synced: {e}"),
    }
}

/// Tokens: every policy held (rules, balance), import by the address `dsm token create
/// --publish` printed, and mint or burn where the policy lets this device.
pub(crate) fn tokens(w: &mut OpenWallet, nonce: &str, flash: Option<&str>) -> Response {
    let tokens = w.tokens();
    let views = match w.token_views() {
        Ok(v) => v,
        Err(e) => return failed("cannot read the tokens", e),
    };
    let mut body =
        String::from("<section aria-labelledby=\"held\"><h2 id=\"held\">Token policies held</h2>");
    if tokens.is_empty() {
        body.push_str("<p>No token policies yet.</p>");
    } else {
        body.push_str("<table><thead><tr><th scope=\"col\">Token</th><th scope=\"col\">Id</th><th scope=\"col\">Balance</th><th scope=\"col\">Rules</th></tr></thead><tbody>");
        for t in &tokens {
            let v = views
                .get(&t.id)
                .cloned()
                .unwrap_or_else(|| crate::wallet_cmd::token_view(w, &t.id));
            let id = t.id.digest().to_hex();
            body.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"amount\">{}</td><td>{}</td></tr>",
                esc(&v.label),
                esc(short(&id)),
                esc(&v.amount_text(t.balance)),
                esc(&crate::token_cmd::describe(&t.policy))
            ));
        }
        body.push_str("</tbody></table>");
    }
    let mut options = String::new();
    for t in &tokens {
        let v = views
            .get(&t.id)
            .cloned()
            .unwrap_or_else(|| crate::wallet_cmd::token_view(w, &t.id));
        options.push_str(&format!(
            "<option value=\"{l}\">{l}</option>",
            l = esc(&v.label)
        ));
    }
    let n = nonce_field(nonce);
    body.push_str(&format!(
        "</section><section aria-labelledby=\"imp\"><h2 id=\"imp\">Import a token</h2>\
         <form method=\"post\" action=\"/tokens/import\">{n}\
         <p><label for=\"addr\">Policy address at the storage nodes (64 hex digits, as <code>dsm token create --publish</code> printed it)</label><br>\
         <input id=\"addr\" name=\"address\" size=\"70\" autocomplete=\"off\" spellcheck=\"false\" required></p>\
         <p><button type=\"submit\">Import</button></p></form></section>\
         <section aria-labelledby=\"mint\"><h2 id=\"mint\">Mint or burn</h2>\
         <p>Minting needs this device to be one of the policy's issuers; burning needs the policy to allow it. Burned value is gone for good.</p>\
         <form method=\"post\" action=\"/tokens/change\">{n}\
         <p><label for=\"mtoken\">Token</label><br><select id=\"mtoken\" name=\"token\">{options}</select></p>\
         <p><label for=\"mamount\">Amount</label><br><input id=\"mamount\" name=\"amount\" inputmode=\"decimal\" autocomplete=\"off\" required></p>\
         <p><button type=\"submit\" name=\"what\" value=\"mint\">Mint</button> \
         <button type=\"submit\" name=\"what\" value=\"burn\">Burn for good</button></p></form></section>"
    ));
    page("Tokens", "/tokens", flash, &body)
}

/// Imports a token policy from the nodes; returns what happened.
pub(crate) fn import_token(w: &mut OpenWallet, address: &str) -> String {
    let mut run = || -> Result<String, crate::wallet_cmd::CliError> {
        let bytes = crate::token_cmd::read_document(
            w,
            None,
            Some(address.trim().to_string()),
            "token create",
        )?;
        let (p, members) = crate::token_cmd::parse_document(&bytes)?;
        let allow = p.allowlist.is_some().then_some(members.as_slice());
        let (id, claimed) = w.import_policy(p.clone(), allow)?;
        let v = crate::wallet_cmd::token_view(w, &id);
        let mut msg = format!(
            "Imported token {} ({}).",
            p.ticker,
            short(&id.digest().to_hex())
        );
        for a in &claimed {
            msg.push_str(&format!(
                " Claimed this device's initial allocation: {}.",
                v.describe(*a)
            ));
        }
        Ok(msg)
    };
    run().unwrap_or_else(|e| format!("Not imported: {}", e.msg))
}

/// Mints or burns; returns what happened.
pub(crate) fn change_token(w: &mut OpenWallet, what: &str, token: &str, amount: &str) -> String {
    let mut run = || -> Result<String, crate::wallet_cmd::CliError> {
        let (id, p) = crate::token_cmd::known(w, token)?;
        let v = crate::wallet_cmd::token_view(w, &id);
        let amount = crate::wallet_cmd::parse_token_amount(&v, amount)?;
        match what {
            "mint" => {
                let out = w.mint(&id, amount)?;
                Ok(format!(
                    "Minted {} (mint #{}, {} of the cap of {} now created).",
                    v.describe(amount),
                    out.seq,
                    v.amount_text(out.minted_total),
                    v.amount_text(p.cap)
                ))
            }
            "burn" => {
                let have = w.balance(&id);
                if have < amount {
                    return Err(crate::wallet_cmd::input(format!(
                        "insufficient balance: you have {}, the burn needs {}",
                        v.describe(have),
                        v.describe(amount)
                    )));
                }
                w.check_burn(&id)?;
                w.burn(&id, amount)?;
                Ok(format!("Burned {}.", v.describe(amount)))
            }
            _ => Err(crate::wallet_cmd::input("choose mint or burn")),
        }
    };
    run().unwrap_or_else(|e| format!("Nothing changed: {}", e.msg))
}

/// Evidence held, the backup's state, and the storage nodes (with a form to add one).
pub(crate) fn status(w: &mut OpenWallet, nonce: &str, flash: Option<&str>) -> Response {
    let mut body = String::from(
        "<section aria-labelledby=\"ev\"><h2 id=\"ev\">Evidence (Tripwire proofs)</h2>",
    );
    match w.evidence() {
        Ok(ev) if ev.is_empty() => body.push_str("<p>No equivocation proofs held.</p>"),
        Ok(ev) => {
            let names = w.summary().ok();
            body.push_str("<ul>");
            for p in &ev {
                // Stored proofs were verified when they were learned; verified again here
                // only to name the device.
                let Ok(e) = p.verify() else { continue };
                let d = e.device().digest().to_hex();
                body.push_str(&format!(
                    "<li>Device <code>{}</code> ({}) signed two conflicting statements; it is refused from now on.</li>",
                    esc(short(&d)),
                    esc(&names.as_ref().map(|v| v.peer_name(&d)).unwrap_or_default())
                ));
            }
            body.push_str("</ul>");
        }
        Err(e) => return failed("cannot read the evidence", e),
    }
    let nodes = match w.nodes() {
        Ok(n) => n,
        Err(e) => return failed("cannot read the node registry", e),
    };
    body.push_str("</section><section aria-labelledby=\"bk\"><h2 id=\"bk\">Backup</h2>");
    // Read from this device only: asking the nodes here would hold every other page.
    match w.backup_status(None) {
        Ok(st) if !st.enabled => body.push_str("<p>This identity has no recovery phrase, so it writes no backup.</p>"),
        Ok(st) => body.push_str(&format!(
            "<p>Backup stream <code>{}</code>: {} capsule(s) sealed, {} at a quorum of nodes{}.</p>",
            esc(short(&st.stream)),
            st.sealed,
            st.uploaded,
            if st.uploaded < st.sealed { "; the next sync uploads the rest" } else { "" }
        )),
        Err(e) => return failed("cannot read the backup state", e),
    }
    body.push_str("</section><section aria-labelledby=\"nd\"><h2 id=\"nd\">Storage nodes</h2>");
    if nodes.is_empty() {
        body.push_str("<p>No storage nodes: online payments and backups need some.</p>");
    } else {
        body.push_str("<ul>");
        for n in &nodes {
            body.push_str(&format!("<li><code>{}</code></li>", esc(n)));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/nodes\">{}\
         <p><label for=\"url\">Add a node (its URL, as <code>dsm node serve</code> printed it)</label><br>\
         <input id=\"url\" name=\"url\" size=\"50\" autocomplete=\"off\" spellcheck=\"false\" required></p>\
         <p><button type=\"submit\">Add node</button></p></form></section>",
        nonce_field(nonce)
    ));
    page("Status", "/status", flash, &body)
}

/// Adds a storage node; returns what happened.
pub(crate) fn add_node(w: &mut OpenWallet, url: &str) -> String {
    let mut run = || -> Result<String, crate::wallet_cmd::CliError> {
        let url = crate::online_cmd::check_url(url.trim())?;
        let mut all = w.nodes()?;
        if all.contains(&url) {
            return Ok(format!("{url} is already a node of this wallet."));
        }
        // The same node under another scheme or pins replaces its old line, as `dsm nodes
        // add` does: placement hashes the node id alone, so nothing moves.
        let id = crate::online_cmd::node_id_of(&url);
        all.retain(|u| crate::online_cmd::node_id_of(u) != id);
        all.push(url.clone());
        w.set_nodes(&all)?;
        let n = w.replication()?.n;
        Ok(if all.len() < n {
            format!(
                "Added node {url}. {} node(s) known; online payments need {n}.",
                all.len()
            )
        } else {
            format!("Added node {url}.")
        })
    };
    run().unwrap_or_else(|e| format!("Not added: {}", e.msg))
}

/// The receive page: a form to wait for one sender in a shared directory, and what the
/// running or last receive did (refreshed every two seconds while one runs).
pub(crate) fn receive(nonce: &str, active: bool, log: &[String], flash: Option<&str>) -> Response {
    let mut body = progress(if active { "Receiving" } else { "Last receive" }, log);
    if !active {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/receive\">{}\
             <p><label for=\"rdir\">Shared directory the sender writes to (its <code>dsm send … --file DIR</code>)</label><br>\
             <input id=\"rdir\" name=\"dir\" size=\"50\" autocomplete=\"off\" required></p>\
             <p><button type=\"submit\">Receive one session</button></p></form>\
             <p>Payments sent online arrive with <em>Sync</em> on the Balances page.</p>",
            nonce_field(nonce)
        ));
    }
    let head = if active {
        "<meta http-equiv=\"refresh\" content=\"2\">"
    } else {
        ""
    };
    page_with("Receive", "/receive", flash, &body, head)
}

/// The QR send page: the frames being shown (animated by ui.js) and what the send did.
pub(crate) fn send_qr(active: bool, log: &[String]) -> Response {
    let mut body = String::new();
    if active {
        body.push_str(
            "<p>Point the receiver's camera at this picture; it changes as the frames go by.</p>\
             <p><img class=\"qr-frame\" data-frames=\"/send/frame.png\" src=\"/send/frame.png?i=0\" \
             alt=\"The QR frame being sent\" width=\"360\" height=\"360\"></p>",
        );
    }
    body.push_str(&progress(
        if active { "Sending" } else { "Last QR send" },
        log,
    ));
    if !active {
        body.push_str("<p><a href=\"/send\">Send again</a></p>");
    }
    let head = if active {
        "<meta http-equiv=\"refresh\" content=\"3\">"
    } else {
        ""
    };
    page_with("Send as QR frames", "/send", None, &body, head)
}

/// A session's progress, oldest step first.
fn progress(title: &str, log: &[String]) -> String {
    if log.is_empty() {
        return String::new();
    }
    let items: String = log.iter().map(|l| format!("<li>{}</li>", esc(l))).collect();
    format!(
        "<section aria-labelledby=\"prog\" aria-live=\"polite\"><h2 id=\"prog\">{}</h2>\
         <ol class=\"progress\">{items}</ol></section>",
        esc(title)
    )
}

/// A page that verifies a receipt file the user chooses, in the page (nothing is uploaded).
pub(crate) fn verify_file() -> Response {
    let body = "<p>The file is read and checked in this page (PROTOCOL.md §7.3 checks 1–8); \
                nothing is sent to the server. The same check works offline from \
                <code>web/verify/verify.html</code>, or with <code>node web/verify/cli.mjs FILE</code>.</p>\
                <p><label for=\"receipt-file\">Receipt file (as <code>dsm receipt ID --out FILE</code> writes it)</label><br>\
                <input type=\"file\" id=\"receipt-file\"></p>\
                <section class=\"receipt\" aria-live=\"polite\"><p class=\"verdict\" data-state=\"idle\">No receipt chosen.</p>\
                <dl class=\"checks\"></dl><dl class=\"facts\"></dl></section>";
    page_with("Verify a receipt file", "/verify", None, body, VERIFIER)
}
