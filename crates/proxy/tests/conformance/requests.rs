//! Request-side rows: what a visitor may send, from the request line to the framing, and what
//! reaches the project. Section numbers: RFC 9112 unless marked 9110.

use super::*;

/// `GET /r` for club.test with `extra` header lines, as the visitor sends it.
fn get(extra: &str) -> String {
    format!("GET /r HTTP/1.1\r\nHost: club.test\r\n{extra}\r\n")
}

pub fn rows() -> Vec<Row> {
    let big = get(&format!("X-Big: {}\r\n", "a".repeat(2048)));
    vec![
        // Request line and target forms.
        row("origin-form is forwarded as it came", "§3.2.1")
            .sends("GET /a/b?c=d HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(200)
            .stays_open()
            .forwards(forwarded(
                "GET /a/b?c=d HTTP/1.1",
                &[("host", "club.test")],
                "club.test",
            )),
        row(
            "absolute-form: the target's authority routes and replaces Host",
            "§3.2.2",
        )
        .sends("GET http://other.host/x HTTP/1.1\r\nHost: club.test\r\n\r\n")
        .answers(200)
        .to_other()
        .forwards(forwarded(
            "GET /x HTTP/1.1",
            &[("host", "other.host")],
            "other.host",
        )),
        row("absolute-form with userinfo is an error", "9110 §4.2.4")
            .sends("GET http://u:p@club.test/x HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("authority-form only with CONNECT", "§3.2.3")
            .sends("GET club.test:80 HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("CONNECT is not tunnelled", "9110 §9.3.6")
            .sends("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n")
            .answers(501)
            .differs(
                "CONNECT is optional for a server; a club's gateway opens no tunnels to \
                 arbitrary hosts (nginx answers 405)",
            ),
        row("asterisk-form only with OPTIONS", "§3.2.4")
            .sends("GET * HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("OPTIONS * is forwarded as asterisk-form", "§3.2.4")
            .sends("OPTIONS * HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(200)
            .forwards(forwarded(
                "OPTIONS * HTTP/1.1",
                &[("host", "club.test")],
                "club.test",
            )),
        row("an invalid request line is refused", "§3")
            .sends("GET  /r HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("an HTTP/2 request line on HTTP/1.1 is refused", "§2.3")
            .sends("GET /r HTTP/2.0\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        // Header field syntax.
        row("whitespace between field name and colon: 400", "§5.1")
            .sends("GET /r HTTP/1.1\r\nHost : club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("obs-fold in a request: 400", "§5.2")
            .sends(get("X-A: one\r\n two\r\n"))
            .answers(400)
            .closes(),
        row("a bare CR is invalid", "§2.2")
            .sends(get("X-A: one\rtwo\r\n"))
            .answers(400)
            .closes(),
        row("a NUL in a field value is invalid", "9110 §5.5")
            .sends(get("X-A: one\0two\r\n"))
            .answers(400)
            .closes(),
        row("whitespace before the first field line: refused", "§2.2")
            .sends("GET /r HTTP/1.1\r\n X-A: 1\r\nHost: club.test\r\n\r\n")
            .answers(400)
            .closes(),
        row("a header section over the limit: 431", "RFC 6585 §5")
            .sends(big)
            .max_header(1024)
            .answers(431)
            .closes(),
        // Host.
        row("HTTP/1.1 without Host: 400", "§3.2")
            .sends("GET /r HTTP/1.1\r\n\r\n")
            .answers(400)
            .closes(),
        row("two Host lines: 400", "§3.2")
            .sends(get("Host: other.host\r\n"))
            .answers(400)
            .closes(),
        row("two Host lines with a body: 400", "§3.2")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nContent-Length: 2\r\nHost: other.host\r\n\r\nhi",
            )
            .answers(400)
            .closes(),
        row("an invalid Host value: 400", "§3.2")
            .sends("GET /r HTTP/1.1\r\nHost: club.test/../x\r\n\r\n")
            .answers(400)
            .closes(),
        row("HTTP/1.0 may leave Host out", "§3.2")
            .sends("GET /r HTTP/1.0\r\n\r\n")
            .answers(200)
            .closes()
            .forwards(forwarded("GET /r HTTP/1.1", &[("host", "{up}")], "{up}")),
        // Framing.
        row("Content-Length and Transfer-Encoding together: refused, closed", "§6.1")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nContent-Length: 5\r\n\
                 Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            )
            .answers(400)
            .closes()
            .differs("the RFC allows processing by Transfer-Encoding; refusing is stricter"),
        row("two different Content-Lengths: 400, closed", "§6.3")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nContent-Length: 2\r\n\
                 Content-Length: 3\r\n\r\nhi!",
            )
            .answers(400)
            .closes(),
        row("an invalid Content-Length: 400", "§6.3")
            .sends("POST /r HTTP/1.1\r\nHost: club.test\r\nContent-Length: +2\r\n\r\nhi")
            .answers(400)
            .closes(),
        row("Transfer-Encoding without chunked last: 400, closed", "§6.3")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
            )
            .answers(400)
            .closes(),
        row("Transfer-Encoding in HTTP/1.0: faulty framing", "§6.1")
            .sends(
                "POST /r HTTP/1.0\r\nHost: club.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            )
            .answers(400)
            .closes(),
        row("a chunked body goes on chunked", "§7.1")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n",
            )
            .answers(200)
            .stays_open()
            .forwards(
                "POST /r HTTP/1.1\r\nhost: club.test\r\nx-forwarded-for: 127.0.0.1\r\n\
                 x-real-ip: 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: club.test\r\n\
                 transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        row("an invalid chunk: 400, the project's request cut off", "§7.1")
            .sends(
                "POST /r HTTP/1.1\r\nHost: club.test\r\nTransfer-Encoding: chunked\r\n\r\n\
                 zz\r\nhello\r\n0\r\n\r\n",
            )
            .answers(400)
            .closes()
            .forwards(
                "POST /r HTTP/1.1\r\nhost: club.test\r\nx-forwarded-for: 127.0.0.1\r\n\
                 x-real-ip: 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: club.test\r\n\
                 transfer-encoding: chunked\r\n\r\n",
            ),
        row("a Content-Length body is forwarded with its length", "§6.2")
            .sends("POST /r HTTP/1.1\r\nHost: club.test\r\nContent-Length: 5\r\n\r\nhello")
            .answers(200)
            .forwards(
                "POST /r HTTP/1.1\r\nhost: club.test\r\ncontent-length: 5\r\n\
                 x-forwarded-for: 127.0.0.1\r\nx-real-ip: 127.0.0.1\r\nx-forwarded-proto: http\r\n\
                 x-forwarded-host: club.test\r\n\r\nhello",
            ),
        // Expect.
        row("Expect: 100-continue with a body too large: final status at once", "9110 §10.1.1")
            .sends(
                "PUT /r HTTP/1.1\r\nHost: club.test\r\nExpect: 100-continue\r\n\
                 Content-Length: 999999999999\r\n\r\n",
            )
            .answers(413)
            .interim(&[]),
        row("Expect: 100-continue: the request goes on", "9110 §10.1.1")
            .sends(
                "PUT /r HTTP/1.1\r\nHost: club.test\r\nExpect: 100-continue\r\n\
                 Content-Length: 2\r\n\r\nhi",
            )
            .answers(200)
            .interim(&[100])
            .forwards(
                "PUT /r HTTP/1.1\r\nhost: club.test\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\
                 x-forwarded-for: 127.0.0.1\r\nx-real-ip: 127.0.0.1\r\nx-forwarded-proto: http\r\n\
                 x-forwarded-host: club.test\r\n\r\nhi",
            ),
        // Upgrade.
        row("Upgrade: websocket is passed on", "9110 §7.8")
            .sends(get("Connection: Upgrade\r\nUpgrade: websocket\r\n"))
            .project(
                Reply::raw(
                    "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
                )
                .echoing(),
            )
            .answers(101)
            .forwards(forwarded(
                "GET /r HTTP/1.1",
                &[
                    ("host", "club.test"),
                    ("connection", "upgrade"),
                    ("upgrade", "websocket"),
                ],
                "club.test",
            )),
        row("Upgrade: h2c is dropped; the request goes on plain", "9110 §7.8")
            .sends(get(
                "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n",
            ))
            .answers(200)
            .stays_open()
            .forwards(plain_forwarded())
            .differs(
                "the RFC lets a server switch to any protocol offered; an h2c tunnel would pass \
                 every limit, header and log of the proxy, so only WebSocket is forwarded",
            ),
        row("Upgrade in an HTTP/1.0 request is ignored", "9110 §7.8")
            .sends("GET /r HTTP/1.0\r\nHost: club.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
            .answers(200)
            .forwards(plain_forwarded()),
        row("Upgrade without the upgrade connection option is dropped", "9110 §7.8")
            .sends(get("Upgrade: websocket\r\n"))
            .answers(200)
            .forwards(plain_forwarded()),
        // Connection and hop-by-hop fields.
        row("fields the Connection header names are removed", "9110 §7.6.1")
            .sends(get("Connection: X-Secret\r\nX-Secret: 1\r\nX-Kept: 2\r\n"))
            .answers(200)
            .forwards(forwarded(
                "GET /r HTTP/1.1",
                &[("host", "club.test"), ("x-kept", "2")],
                "club.test",
            )),
        row("hop-by-hop fields are removed", "9110 §7.6.1")
            .sends(get(
                "Connection: TE\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\
                 Proxy-Authorization: Basic eDp5\r\n",
            ))
            .answers(200)
            .forwards(plain_forwarded()),
        row("Connection: host does not remove Host", "9110 §7.6.1")
            .sends(get("Connection: host\r\n"))
            .answers(200)
            .forwards(plain_forwarded()),
        row("Via is not added", "9110 §7.6.3")
            .sends(get("Via: 1.1 edge\r\n"))
            .answers(200)
            .forwards(forwarded(
                "GET /r HTTP/1.1",
                &[("host", "club.test"), ("via", "1.1 edge")],
                "club.test",
            ))
            .differs(
                "a gateway MUST add Via; the proxy announces the hop with X-Forwarded-* instead, \
                 because many origins change behaviour on Via (nginx's gzip_proxied default turns \
                 compression off for any request with Via), as nginx does",
            ),
        row("X-Forwarded-* from an untrusted visitor are replaced", "(ours)")
            .sends(get("X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6\r\n"))
            .answers(200)
            .forwards(plain_forwarded()),
        // Max-Forwards and TRACE.
        row("OPTIONS with Max-Forwards: 0 is answered here", "9110 §7.6.2")
            .sends("OPTIONS /r HTTP/1.1\r\nHost: club.test\r\nMax-Forwards: 0\r\n\r\n")
            .answers(200)
            .has("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        row("OPTIONS with Max-Forwards: n goes on with n - 1", "9110 §7.6.2")
            .sends("OPTIONS /r HTTP/1.1\r\nHost: club.test\r\nMax-Forwards: 3\r\n\r\n")
            .answers(200)
            .forwards(forwarded(
                "OPTIONS /r HTTP/1.1",
                &[("host", "club.test"), ("max-forwards", "2")],
                "club.test",
            )),
        row("TRACE is not forwarded", "9110 §9.3.8")
            .sends("TRACE /r HTTP/1.1\r\nHost: club.test\r\nCookie: sid=secret\r\n\r\n")
            .answers(501)
            .never("sid=secret")
            .differs(
                "TRACE is optional; it would echo cookies and credentials back (cross-site \
                 tracing), so it never reaches a project (nginx answers 405)",
            ),
    ]
}
