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
# Why a route reaches nothing (the control plane's words, `routes-why-<words with dashes>`).
routes-why-waiting-for-approval = waiting for approval
routes-why-starting = starting
routes-why-expired = expired
routes-why-failed = failed
routes-why-stopped = stopped
routes-why-rejected = rejected
routes-why-withdrawn = withdrawn

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
## Request a hosting slot, edit and resubmit (request.html, request.js)
request-title = Request a hosting slot
request-edit-title = Edit { $slug }
request-edit-heading = Edit and resubmit { $slug }
request-changes-asked = An admin asked for changes
request-name = Project name
request-address = Address:
request-slug-stays = (the slug stays)
request-slug-label = Address: /slug/ (lowercase letters, digits, dashes)
request-slug-ok = Slug: available.
request-slug-empty = Slug: choose the address your project will have.
request-slug-available = The address /{ $slug }/ is available.
request-description = Description (shown in the gallery)
request-source = Link to the source code
request-days = Hosting period in days (up to { $days })
request-stack-legend = Stack: start from one of the club's templates, or bring your own compose file
request-template-settings = { $template } settings
request-var-required = (required)
request-var-secret = : secret, never shown again
request-var-stored = ; leave empty to keep the one stored
request-own = Your own compose file
request-own-legend = Your compose file
request-paste = Paste it
request-upload = …or upload it (overrides the text above)
# Rendered as HTML (no variables).
request-example = Example: a compose file with <code>x-clubhost</code>
# Rendered as HTML (no variables).
request-example-hint = <code>x-clubhost</code> is a top-level key, beside <code>services:</code>. It names the service visitors reach and the port it listens on inside its container; without it, the checker guesses and says what it chose.
request-archive = …or your project's files, with its compose file, Dockerfile or index.html at the top
request-git = …or its git repository (https://)
request-git-ref = Branch or tag (default branch if empty)
request-verdict = Checker's verdict
request-stack-ok = Stack: accepted.
request-secrets-hint = Secret values you type are not shown again, also not after "Check": type them again before submitting.
request-check = Check
request-submit = Submit request
request-resubmit = Resubmit request

## Review queue (admin)
queue-title = Review queue
queue-by = /{ $slug }/ by { $owner }
queue-term = Term asked: { $days } days
queue-source = source
queue-others = Member's other projects:
queue-others-none = none
queue-quota = Quota: { $quota }.
queue-normalized = Normalized stack (what would be deployed)
queue-sent-back-before = Sent back before with: { $note }
queue-as-submitted = Stack as submitted
queue-approve = Approve and deploy
queue-reject-reason = Reason for rejecting
queue-reject = Reject
queue-note = Note for the member (what should change)
queue-send-back = Send back
queue-none = No requests are waiting.

## Dashboard (admin)
dash-title = Dashboard
dash-waiting = Waiting for an admin
dash-requests = Requests waiting for review
dash-renewals = Renewals waiting for a decision
dash-projects = Projects
dash-running = Running
dash-failed = Failed
dash-expiring = Ending within { $days } days
dash-term-ends = term ends { $date }
dash-disk = Disk: the whole Docker engine and the data directory
dash-docker-unknown = Docker's disk use is unknown: { $error }
dash-what = What
dash-size = Size
dash-count = How many
dash-disk-images = Images
dash-disk-containers = Containers
dash-disk-volumes = Volumes
dash-disk-build-cache = Build cache
dash-disk-data-directory = Data directory
# Rendered as HTML (no variables).
dash-gc = Unused images and leftovers of deleted projects: <code>clubhost gc --images</code> shows them, <code>--apply</code> removes them.
dash-host = Host
dash-memory = Memory in use: { $used } of { $total }
dash-load = Load over the last minute (CPUs: { $cpus })
dash-host-unknown = The host's memory and load are unknown here (no /proc).
dash-failures = Last failed deploys
dash-no-failures = No deploy has failed lately.

## The gallery's terms
gallery-until = Hosted until { $day }
gallery-home = The club's home page
gallery-no-end = Hosted with no end date

## Deploy progress (a project's page and the live view)
progress-now = The project is now { $state }: open its page
progress-post-failed = The request failed; reload the page to see the project's state.
step-started = deploy #{ $deployment } started ({ $why })
step-build-queued = build of { $service } waits for a build slot (position { $position } in the queue)
step-building = building { $image } for { $service }
step-build-log = { $service } build | { $line }
step-built = built { $image } for { $service }
step-image-ready = image { $image } ready for { $service }
step-network-created = network { $name } created
step-network-there = network { $name } already there
step-volume-created = volume { $name } created
step-volume-there = volume { $name } already there
step-container-created = container { $container } created
step-container-started = container of { $service } started
step-wait-ready = waiting for { $service } to be ready
step-wait-healthy = waiting for { $service } to be healthy
step-wait-completed = waiting for { $service } to finish
step-wait-listening = waiting for { $service } to accept connections on port { $port }
step-answering = { $service } answers on port { $port }
step-route = route { $route } published
step-running = deploy finished: the project is running
step-failed = deploy failed: { $reason }
step-failed-serving = deploy failed: { $reason } (the previous deployment keeps serving)

## Refusals: which action failed (the page's title)
refused-admin-page = This admin page is not open to you
refused-show-project = Project “{ $slug }” could not be shown
refused-show-page = This page could not be shown
refused-approve = The request for “{ $slug }” could not be approved
refused-reject = The request for “{ $slug }” could not be rejected
refused-send-back = The request for “{ $slug }” could not be sent back
refused-stop = Project “{ $slug }” could not be stopped
refused-expire = Project “{ $slug }” could not be expired
refused-redeploy = Project “{ $slug }” could not be deployed again
refused-restore = Project “{ $slug }” could not be restored
refused-delete = Project “{ $slug }” could not be deleted
refused-term = The term of project “{ $slug }” could not be changed
refused-project-action = That action on project “{ $slug }” failed
refused-member = The change to member “{ $name }” failed
refused-withdraw = Your request for “{ $slug }” could not be withdrawn
refused-renewal-decide = The renewal could not be decided
refused-renew = The renewal of “{ $slug }” could not be asked for
refused-edit = Your changes to “{ $slug }” could not be saved
refused-request = Your request could not be submitted
refused-join = Your chat invite could not be made
refused-account = Your password could not be changed
refused-logout = You could not be logged out
refused-other = That action failed

## Refusals: why, for a project in the wrong state ("“blog” is already running, so it can no
## longer be rejected.")
refusal-no-longer = “{ $slug }” is { $now }, so it can no longer be { $wanted }.
refusal-not-now = “{ $slug }” is { $now }, so this cannot be done to it now.
refusal-now-requested = waiting for review
refusal-now-changes-requested = sent back to its member for changes
refusal-now-approved = approved and about to deploy
refusal-now-deploying = being deployed
refusal-now-running = already running
refusal-now-failed = failed (its last deploy did not succeed)
refusal-now-stopped = stopped
refusal-now-expired = expired
refusal-now-rejected = already rejected
refusal-now-withdrawn = withdrawn by its member
refusal-now-purged = expired and its data deleted
refusal-wanted-approved = approved
refusal-wanted-rejected = rejected
refusal-wanted-changes-requested = sent back
refusal-wanted-requested = submitted again
refusal-wanted-withdrawn = withdrawn
refusal-wanted-deploying = deployed
refusal-wanted-stopped = stopped
refusal-wanted-expired = expired
refusal-wanted-purged = purged

## English only this turn: these come from outside the portal and are shown as they are, in
## English, in both languages: the stack checker's findings and warnings (clubhost-stack, shared
## with `clubhost stack check`), the normalized stack, the control plane's other refusal reasons
## (a bad field, a taken slug, a quota: clubhost-core, shared with the CLI and the admin API), a
## failed deploy's reason and build log lines, and the club's own templates' titles and
## descriptions (stacks/*/).
