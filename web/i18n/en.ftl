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
nav-admin-queue = Review queue
nav-admin-projects = All projects
nav-admin-members = Members
nav-admin-routes = Routes
nav-admin-audit = Audit log
nav-account = Account ({ $name })
nav-logout = Log out
nav-login = Log in
nav-signup = Sign up
lang-switch = Language
lang-unknown = The portal does not speak "{ $code }"; it speaks English (en) and Korean (ko).
