# The notifications clubhost sends (e-mail, Slack, Discord), in English. Every key here must be in
# ko.ftl too (a test checks). A member's notes speak the language they last used the portal in
# (the switch, or the pages' at login); admins' and the club's channels the club's, `[club] language`.

note-request-subject = New hosting request: { $slug }
note-request-body = { $owner } asks to host { $slug } ({ $name }) for { $days } days.
note-approved-subject = { $slug } is approved
note-approved-body = Your project { $slug } is approved and deploying; its term ends { $end }.
note-rejected-subject = { $slug } was not approved
note-rejected-body = Your request for { $slug } was rejected: { $reason }
note-withdrawn-subject = Request withdrawn: { $slug }
note-withdrawn-body = { $owner } withdrew the request for { $slug } ({ $name }).
note-expired-subject = { $slug } has expired
note-expired-body = Your project { $slug } has expired ({ $reason }). Its data is kept for { $grace } in case an admin restores it; after that it is removed for good. Download it (one archive: volumes as tar, databases as SQL) at { $backups }
note-sent-back-subject = { $slug }: changes requested
note-sent-back-body =
    An admin sent your request for { $slug } back: { $note }
    Edit it on "My projects" in the portal and submit it again (or withdraw it).
note-resubmitted-subject = Request resubmitted: { $slug }
note-resubmitted-body = { $owner } changed { $slug } ({ $name }) after it was sent back and submitted it again.
note-reminder-subject = { $slug } expires in { $ahead }
note-reminder-body = The hosting term of { $slug } ends { $end }. Ask for a renewal (clubhost project renew { $slug } --days N --reason ...) to keep it. Your data is yours either way: its backups (volumes as tar, databases as SQL, in one archive) are at { $backups }
note-purged-subject = { $slug } was removed
note-purged-body = The grace period of { $slug } has ended; its data has been removed.
note-restored-subject = { $slug } is restored
note-restored-body = An admin restored { $slug } with its data; its new term ends { $end }.
note-renewal-subject = Renewal request #{ $id } for { $slug }
note-renewal-body = { $name } asks to move the term end of { $slug } from { $from } to { $to }: { $reason }
note-renewed-subject = { $slug } renewed
note-renewed-body = Your renewal of { $slug } is approved: the term now ends { $end }.
note-declined-subject = { $slug } renewal declined
note-declined-body = Your renewal of { $slug } was declined: { $note }
note-term-moved-subject = { $slug }: term end moved
note-term-moved-body = An admin moved the end of the hosting term of { $slug } from { $from } to { $to }.
note-failed-subject = { $slug } failed to deploy
note-failed-body = The deploy of { $slug } failed: { $reason }
