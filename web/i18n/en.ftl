# The portal's English strings. Every key here must be in ko.ftl too (a test checks).
# Keys: <page or part>-<what>. Variables: { $name }.

## Every page
site-name = clubhost
skip-to-content = Skip to content
nav-label = Portal
nav-gallery = Gallery
nav-request = Request a slot
nav-projects = My projects
nav-join = Join the chat
nav-menu = Menu
nav-admin = Admin
nav-admin-dashboard = Dashboard
nav-admin-queue = Review queue
nav-admin-projects = All projects
nav-admin-members = Members
nav-admin-routes = Routes
nav-admin-certificates = Certificates
nav-admin-audit = Audit log
nav-account = Account ({ $name })
nav-logout = Log out
nav-login = Log in
nav-signup = Sign up
lang-switch = Language
lang-unknown = The portal does not speak "{ $code }"; it speaks English (en) and Korean (ko).

## Shared form fields and project words
field-password = Password
field-email = Email
project-state = State:
project-permanent = permanent
project-term-ends = term ends { $date }
project-last-failed = Last deploy failed: { $reason }
project-history = History
project-history-entry = { $action } by { $actor }

## Project states
state-requested = requested
state-changes-requested = changes requested
state-approved = approved
state-deploying = deploying
state-running = running
state-failed = failed
state-stopped = stopped
state-expired = expired
state-rejected = rejected
state-withdrawn = withdrawn
state-purged = purged

## Log in, sign up, account
login-title = Log in
login-name-or-email = Name or email
login-no-account = No account yet?
signup-title = Sign up
signup-name = Name (shown as the owner of your projects)
signup-password = Password (at least 10 characters)
signup-invite = Club invite code
signup-submit = Create account
account-title = Your account
account-email = Email: { $email }
account-change-password = Change password
account-current-password = Current password
account-new-password = New password (at least 10 characters)

## My projects
mine-submitted = Request submitted. An admin will review it.
mine-resubmitted = Request resubmitted. It is back in the review queue.
mine-sent-back = An admin sent this request back:
mine-edit-resubmit = Edit and resubmit
mine-template = Stack: the { $template } template.
mine-checker-problem = Checker: { $problem }
mine-checker-ok = Checker: stack accepted.
mine-what-deployed = What would be deployed
mine-backups = Backups
backups-title = Backups of { $slug }
backups-intro = Each backup holds your project's settings, every volume's files as a tar archive and a database dump (SQL) where your project runs a database. Secret variables are not in the downloads.
backups-none = No backups yet.
backups-heading = Backup { $id }
backups-taken = Taken { $when } · { $bytes } bytes
backups-archive = Download everything (one .tar archive)
backups-files = Single files
backups-file-bytes = ({ $bytes } bytes)
backups-back = Back to my projects
mine-withdraw = Withdraw request
mine-redeploy = Redeploy
mine-logs-download = Download the last log lines
mine-logs-live = Show live logs
mine-none = No projects yet.
mine-request-slot = Request a hosting slot

## A project's page
project-latest-deploy = Latest deploy
project-no-deploy = No deploy since the server last started.
project-actions = Actions
project-files = Files
project-files-git = From the git repository { $url }
project-files-branch = Branch: { $ref }
project-files-upload = From uploaded files (a folder or an archive)
project-files-revision = Revision { $revision }
project-files-commit = Commit { $commit }
project-files-deployed = Serving revision { $revision } until the newest one deploys.
project-pull = Pull and redeploy
project-webhook = Webhook
project-webhook-help = To redeploy on every push, add this address as a webhook in your repository's settings (content type JSON, push events), with the secret as its secret. A bare POST with the secret as ?token= works too.
project-webhook-show = Show the secret
project-webhook-title = Webhook of { $slug }
project-webhook-url = Address
project-webhook-secret = Secret
project-webhook-keep = Keep the secret private: whoever has it can make this project pull and redeploy.
project-webhook-new = Make a new secret
project-webhook-new-help = The old secret stops working at once; give the new one to your repository host.
project-back = Back to the project

## Renewals
renewal-to = Renewal to { $date }:
renewal-request = Request a renewal
renewal-new-end = New end date (until { $date } at most)
renewal-why = Why it should stay
renewal-state-pending = pending
renewal-state-approved = approved
renewal-state-rejected = rejected

## Members (admin)
users-name = Name
users-role = Role
users-admin = admin
users-member = member
users-disabled = (disabled)
users-demote = Demote
users-promote = Promote
users-enable = Enable
users-disable = Disable
users-cli-note = Accounts made with `clubhost user add` get a password with `clubhost user passwd NAME` (reads it from stdin).

## Audit log (admin)
audit-project = Project (slug)
audit-user = User
audit-filter = Filter
audit-when = When
audit-who = Who
audit-project-col = Project
audit-action = Action
audit-reason = Reason

## All projects (admin)
all-containers = Containers
all-service = Service
all-status = Status
all-memory = Memory
all-cpu = CPU
all-none = No projects.

## Renewal requests (admin)
renewals-title = Renewal requests
renewals-by = #{ $id } by { $name }
renewals-term-end = Term end:
renewals-note = Note (optional)
renewals-approve = Approve renewal
renewals-deny-reason = Reason for denying
renewals-deny = Deny renewal
renewals-none = No renewal requests are waiting.

## Routes (admin)
routes-intro = What the proxy serves right now.
routes-path = Path
routes-target = Goes to
routes-answering = Answering
routes-nothing = nothing ({ $why })
routes-yes = yes
routes-no = no

## An admin's actions on a project
admin-expire-now = Expire now
admin-term-move = Move the term end (extend or shorten)
admin-term-move-until = Move the term end (extend or shorten; until { $date } at most)
admin-term-set = Set the term end
admin-restore-days = Restore with its data, for a new term of (days; empty: its original term)
admin-restore = Restore
admin-temporary = Give it back its term
admin-permanent = Mark permanent
# Rendered as HTML: the slug is checked to be [a-z0-9-].
admin-delete-confirm = Type <code>{ $slug }</code> to delete it with its volumes
admin-delete = Delete

## The club's front page and gallery
front-join = How to join
front-member = You are a member.
front-invite-hint = Sign-up asks for the club's invite code: a member or an admin can give it to you.
front-members-can = Members can ask for a hosting slot for their own project.
front-chat-after-signin = (members get the invite after signing in).
gallery-title = What the club hosts
gallery-sort-label = Sort the gallery
gallery-sort = Sort:
gallery-filter-label = Filter the gallery by member
gallery-member = Member:
gallery-by = By { $owner }
gallery-source = Source code
gallery-member-none = { $member } has nothing running right now.
gallery-none = Nothing is hosted yet.

## Refusals and messages
message-back = Go back to the previous page
message-front = Portal front page
message-portal = Back to the portal

## Joining the chat
chat-title = Join the club's chat
chat-open = Open the invite
chat-copy = Or copy this link:
chat-personal = This invite was made for you: it works once, for { $minutes } minutes. Please do not pass it on; send new members here instead.
chat-per-member = The club makes an invite for each member: it works once, for { $minutes } minutes.
chat-make = Make my invite
chat-none = The club has not set a chat invite yet ([portal] chat_invite_url). Ask an admin.

## What a request's build will do (the review card)
review-build = What the build will do (files of revision { $revision })
review-build-service = Service { $service } is built from { $dockerfile }
review-build-target = stage { $target }
review-build-args = Build arguments:
review-build-no-args = No build arguments.
review-dockerfile = Dockerfile of { $service }
review-dockerfile-truncated = Only the first 64 KiB are shown.
review-copied = The project's files copied into containers:
review-files = { $count } files, { $size } in all
review-files-largest = Largest files:
review-files-all = All files
review-files-more = … and { $count } more
## Members' own domains (project page) and the admins' certificates page
domains-title = Your own domains
domains-intro = Serve this project at a domain of your own too. Point the name's DNS (an A or AAAA record) at the club, add it here, then check it: the club fetches the proof below at the name and routes the name to this project once it answers, then gets its HTTPS certificate.
domains-name = Domain
domains-add = Add domain
domains-verified = verified, served
domains-pending = waiting for the check
domains-proof = The club answers this proof itself once the name points at it:
domains-check = Check now
domains-remove = Remove
domains-check-failed = Last check failed: { $reason }
certs-dashboard-link = HTTPS certificates and members' domains
certs-https-off = HTTPS is off ([proxy] https_listen is not set): no certificate is ordered.
certs-name = Name
certs-issuer = Issuer
certs-expires = Expires
certs-renews = Next renewal
certs-last-error = Last error
certs-not-issued = not issued yet
certs-none = No certificate yet.
certs-domains = Members' domains
certs-project = Project
certs-state = State
certs-no-domains = No project has a domain of its own.
