//! Response-side rows: a misbehaving project. The visitor sends a plain GET (the project must
//! receive exactly that, once), the project answers with the bytes in the row, and the row says
//! what the visitor must see. Section numbers: RFC 9112 unless marked 9110.

use super::*;

/// A row whose project answers `reply` to the plain GET.
fn answering(rule: &'static str, section: &'static str, reply: Reply) -> Row {
    row(rule, section)
        .project(reply)
        .forwards(plain_forwarded())
}

pub fn rows() -> Vec<Row> {
    let mut huge = "HTTP/1.1 200 OK\r\n".to_string();
    for i in 0..700 {
        huge.push_str(&format!("x-filler-{i}: {}\r\n", "f".repeat(90)));
    }
    huge.push_str("content-length: 2\r\n\r\nok");
    vec![
        answering(
            "Content-Length with Transfer-Encoding: the length is removed, chunked wins",
            "§6.3",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n",
            ),
        )
        .answers(200)
        .body("hello")
        .has("transfer-encoding", "chunked")
        .lacks("content-length"),
        answering(
            "two different Content-Lengths: 502",
            "§6.3",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        )
        .answers(502)
        .never("hello"),
        answering(
            "an invalid Content-Length: 502",
            "§6.3",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"),
        )
        .answers(502)
        .never("hello"),
        answering(
            "a body shorter than announced: incomplete, connection closed",
            "§6.3",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello").closing(),
        )
        .answers(200)
        .cut_short(),
        answering(
            "bytes beyond the announced length never reach a visitor",
            "§6.3",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\
                 Content-Length: 7\r\n\r\nsmuggle",
            ),
        )
        .answers(200)
        .body("hello")
        .stays_open()
        .never("smuggle"),
        answering(
            "an invalid chunk: incomplete, connection closed",
            "§7.1",
            Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        )
        .answers(200)
        .cut_short(),
        answering(
            "a chunked body cut off: incomplete, connection closed",
            "§7.1",
            Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").closing(),
        )
        .answers(200)
        .cut_short(),
        answering(
            "a chunk size that overflows: incomplete, connection closed",
            "§7.1",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
            ),
        )
        .answers(200)
        .cut_short(),
        answering(
            "a transfer coding other than chunked: 502",
            "§6.1",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ),
        )
        .answers(502)
        .never("hello")
        .differs(
            "a proxy may decode or pass on other codings; the visitor's side is framed afresh, \
             so they would arrive undecoded and unannounced (nginx 1.22 answers 200)",
        ),
        answering(
            "1xx before the final answer: not passed on",
            "9110 §15.2",
            Reply::raw(
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
                 HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
        )
        .answers(200)
        .body("ok")
        .interim(&[])
        .differs(
            "a proxy MUST forward 1xx it did not ask for; the visitor side writes one head per \
             request, so 103 Early Hints (and a stray 100) are dropped, as nginx does",
        ),
        answering(
            "obs-fold in a response: 502",
            "§5.2",
            Reply::raw("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok"),
        )
        .answers(502),
        answering(
            "a response header section over 64 KiB: 502",
            "(ours)",
            Reply::raw(huge),
        )
        .answers(502),
        answering(
            "101 when no upgrade was asked: 502",
            "9110 §15.2.2",
            Reply::raw("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n")
                .echoing(),
        )
        .answers(502),
        answering(
            "fields the response's Connection header names are removed",
            "9110 §7.6.1",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\n\
                 Keep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
            ),
        )
        .answers(200)
        .lacks("x-internal")
        .lacks("keep-alive")
        .lacks("connection")
        .never("secret"),
        row("no Transfer-Encoding to an HTTP/1.0 visitor", "§6.1")
            .sends("GET /r HTTP/1.0\r\nHost: club.test\r\n\r\n")
            .project(Reply::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ))
            .answers(200)
            .body("hello")
            .lacks("transfer-encoding")
            .closes()
            .forwards(plain_forwarded()),
        row("a body after a HEAD answer is not passed on", "9110 §9.3.2")
            .sends("HEAD /r HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .project(Reply::raw(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
            ))
            .answers(200)
            .has("content-length", "5")
            .never("hello")
            .forwards(forwarded(
                "HEAD /r HTTP/1.1",
                &[("host", "club.test")],
                "club.test",
            )),
        answering(
            "an invalid status line: 502",
            "§4",
            Reply::raw("HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"),
        )
        .answers(502),
        answering(
            "a NUL in a response field: 502",
            "9110 §5.5",
            Reply::raw("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok"),
        )
        .answers(502),
        answering(
            "whitespace between a response field name and colon: 502",
            "§5.1",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
        )
        .answers(502),
        answering(
            "no answer at all: 502",
            "9110 §15.6.3",
            Reply::raw("").closing(),
        )
        .answers(502),
    ]
}
