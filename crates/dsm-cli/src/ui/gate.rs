//! Who may use `dsm ui` (issue 20, review point 2): loopback is not a trust boundary — any
//! local process, and any web page the user's browser visits, can reach a loopback port. So
//! every request is judged here, from its headers alone, before any wallet code runs:
//!
//! - **Host** must be exactly `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT` (DNS
//!   rebinding: a page at `evil.example` resolving to 127.0.0.1 sends its own Host).
//! - **The login token** printed at start works once: `GET /login?token=T` swaps it for a
//!   separate cookie secret (HttpOnly, SameSite=Strict, its name carrying the port, since
//!   cookies are not separated by port) and redirects to a clean URL, so the token never
//!   stays in the address bar, the history or a Referer.
//! - **Every request** but the login carries that cookie.
//! - **Every non-GET** carries an Origin equal to `http://` + its Host (`null` refused) and
//!   `Sec-Fetch-Site: same-origin` (CSRF: another site's form can be posted to loopback, and
//!   SameSite ignores the port). GET never changes state.
//!
//! Secrets are compared in constant time and never printed after start.

use std::sync::Mutex;

/// Why a request was turned away (each is a distinct HTTP answer and test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The Host header is not this server's loopback name and port (421).
    Host,
    /// A state-changing request without this server's exact Origin (403).
    Origin,
    /// A state-changing request not marked `Sec-Fetch-Site: same-origin` (403).
    FetchSite,
    /// No valid session cookie (401): open the URL `dsm ui` printed.
    NoSession,
    /// A login with a wrong token, or a second login with the one-time token (401).
    Login,
}

impl Refusal {
    /// The HTTP status that answers it.
    pub fn status(self) -> u16 {
        match self {
            Refusal::Host => 421,
            Refusal::Origin | Refusal::FetchSite => 403,
            Refusal::NoSession | Refusal::Login => 401,
        }
    }

    /// What the page says, and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Host => {
                "this server answers only to 127.0.0.1, localhost or [::1] with its own port"
            }
            Refusal::Origin => {
                "a change must come from this page itself (its Origin does not match)"
            }
            Refusal::FetchSite => {
                "a change must come from this page itself (Sec-Fetch-Site is not same-origin)"
            }
            Refusal::NoSession => {
                "not signed in: open the URL that `dsm ui` printed in its terminal"
            }
            Refusal::Login => {
                "this login link is wrong or was already used: restart `dsm ui` for a new one"
            }
        }
    }
}

/// The headers a request is judged by.
#[derive(Debug, Default, Clone, Copy)]
pub struct Facts<'a> {
    /// True for GET and HEAD (which never change state here).
    pub safe_method: bool,
    /// The Host header.
    pub host: Option<&'a str>,
    /// The Origin header.
    pub origin: Option<&'a str>,
    /// The Sec-Fetch-Site header.
    pub fetch_site: Option<&'a str>,
    /// Every Cookie header's value, joined by "; ".
    pub cookies: Option<&'a str>,
}

/// The gate of one `dsm ui` process.
pub struct Gate {
    port: u16,
    /// The one-time login token, until it is used.
    login: Mutex<Option<String>>,
    /// The cookie secret a login hands out.
    secret: String,
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn eq_ct(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Gate {
    /// A gate for a server on `port`, with its one-time login token and cookie secret
    /// (each 32 random bytes, hex).
    pub fn new(port: u16, login: String, secret: String) -> Gate {
        Gate {
            port,
            login: Mutex::new(Some(login)),
            secret,
        }
    }

    /// The session cookie's name: it carries the port, since browsers do not separate
    /// cookies by port.
    pub fn cookie_name(&self) -> String {
        format!("dsm_ui_{}", self.port)
    }

    /// The Set-Cookie value a successful login answers with.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name(),
            self.secret
        )
    }

    /// Checks the Host header alone.
    fn host(&self, host: Option<&str>) -> Result<(), Refusal> {
        let host = host.ok_or(Refusal::Host)?;
        let p = self.port;
        let ok = [
            format!("127.0.0.1:{p}"),
            format!("localhost:{p}"),
            format!("[::1]:{p}"),
        ]
        .iter()
        .any(|h| h == host);
        if ok {
            Ok(())
        } else {
            Err(Refusal::Host)
        }
    }

    /// Judges the Host header alone (the login's first check).
    pub fn check_host(&self, f: &Facts) -> Result<(), Refusal> {
        self.host(f.host)
    }

    /// Judges an ordinary request (anything but the login).
    pub fn check(&self, f: &Facts) -> Result<(), Refusal> {
        self.host(f.host)?;
        if !f.safe_method {
            let host = f.host.unwrap_or_default();
            match f.origin {
                Some(o) if o == format!("http://{host}") => {}
                _ => return Err(Refusal::Origin),
            }
            if f.fetch_site != Some("same-origin") {
                return Err(Refusal::FetchSite);
            }
        }
        let name = self.cookie_name();
        let has = f
            .cookies
            .unwrap_or_default()
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == name && eq_ct(v.as_bytes(), self.secret.as_bytes()));
        if has {
            Ok(())
        } else {
            Err(Refusal::NoSession)
        }
    }

    /// Judges a login: the Host as always, then the one-time token, which this call uses
    /// up when it matches (a second login with it is refused).
    pub fn login(&self, f: &Facts, token: Option<&str>) -> Result<(), Refusal> {
        self.host(f.host)?;
        if !f.safe_method {
            return Err(Refusal::Login);
        }
        let mut slot = self.login.lock().unwrap_or_else(|e| e.into_inner());
        match (slot.as_deref(), token) {
            (Some(want), Some(got)) if eq_ct(want.as_bytes(), got.as_bytes()) => {
                *slot = None;
                Ok(())
            }
            _ => Err(Refusal::Login),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Gate {
        Gate::new(4242, "t0ken".into(), "s3cret".into())
    }

    fn get(host: &str, cookies: &str) -> Facts<'static> {
        Facts {
            safe_method: true,
            host: Some(Box::leak(host.to_string().into_boxed_str())),
            cookies: Some(Box::leak(cookies.to_string().into_boxed_str())),
            ..Facts::default()
        }
    }

    #[test]
    fn only_the_exact_loopback_hosts_with_the_port_pass() {
        let g = gate();
        for h in ["127.0.0.1:4242", "localhost:4242", "[::1]:4242"] {
            assert_eq!(g.check(&get(h, "dsm_ui_4242=s3cret")), Ok(()), "{h}");
        }
        for h in [
            "127.0.0.1",
            "127.0.0.1:4243",
            "localhost",
            "evil.example:4242",
            "LOCALHOST:4242",
            "127.0.0.1:4242.evil.example",
            "",
        ] {
            assert_eq!(
                g.check(&get(h, "dsm_ui_4242=s3cret")),
                Err(Refusal::Host),
                "{h}"
            );
        }
        assert_eq!(
            g.check(&Facts {
                safe_method: true,
                ..Facts::default()
            }),
            Err(Refusal::Host)
        );
    }

    #[test]
    fn the_cookie_must_carry_this_ports_name_and_the_secret() {
        let g = gate();
        let h = "127.0.0.1:4242";
        assert_eq!(g.check(&get(h, "a=b; dsm_ui_4242=s3cret")), Ok(()));
        for c in [
            "",
            "dsm_ui_4242=s3cre",
            "dsm_ui_4242=s3cretx",
            "dsm_ui_4243=s3cret",
            "dsm_ui=s3cret",
        ] {
            assert_eq!(g.check(&get(h, c)), Err(Refusal::NoSession), "{c}");
        }
    }

    #[test]
    fn a_change_needs_the_exact_origin_and_same_origin_fetch() {
        let g = gate();
        let post = |origin: Option<&'static str>, site: Option<&'static str>| Facts {
            safe_method: false,
            host: Some("localhost:4242"),
            origin,
            fetch_site: site,
            cookies: Some("dsm_ui_4242=s3cret"),
        };
        assert_eq!(
            g.check(&post(Some("http://localhost:4242"), Some("same-origin"))),
            Ok(())
        );
        for o in [
            None,
            Some("null"),
            Some("http://127.0.0.1:4242"),
            Some("http://localhost:4243"),
            Some("https://localhost:4242"),
            Some("http://evil.example"),
        ] {
            assert_eq!(
                g.check(&post(o, Some("same-origin"))),
                Err(Refusal::Origin),
                "{o:?}"
            );
        }
        for s in [None, Some("same-site"), Some("cross-site"), Some("none")] {
            assert_eq!(
                g.check(&post(Some("http://localhost:4242"), s)),
                Err(Refusal::FetchSite),
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_login_token_works_once() {
        let g = gate();
        let f = get("127.0.0.1:4242", "");
        assert_eq!(g.login(&f, Some("wrong")), Err(Refusal::Login));
        assert_eq!(g.login(&f, None), Err(Refusal::Login));
        assert_eq!(g.login(&f, Some("t0ken")), Ok(()));
        assert_eq!(g.login(&f, Some("t0ken")), Err(Refusal::Login));
        assert_eq!(
            g.login(&get("evil.example:4242", ""), Some("t0ken")),
            Err(Refusal::Host)
        );
        assert!(g.set_cookie().starts_with("dsm_ui_4242=s3cret;"));
        assert!(g.set_cookie().contains("HttpOnly") && g.set_cookie().contains("SameSite=Strict"));
    }
}
