# English (second language). Every id here exists in pl.ftl too (a test checks it).
skip-to-content = Skip to content
nav-main = Main menu
nav-language = Language
nav-login = Log in
nav-ebok = e-Office
nav-office = Office
nav-console = Console
logout = Log out
footer = ewoda — open-source meter-to-cash for water utilities.

login-title = Log in
login-username = Login
login-password = Password
login-submit = Log in
login-username-missing = Enter your login.
login-password-missing = Enter your password.
login-wrong = Wrong login or password.
login-locked = The account is locked for a while after several failed logins. Try again in 15 minutes or reset your password.
login-unconfirmed = Confirm your e-mail address first, with the link in the message we sent after registration.

error-home = Home page
error-404-title = Page not found
error-404-text = This page does not exist or you cannot open it. Check the address or go back to the home page.
error-403-title = No access
error-403-text = Your account may not open this page. If this is a mistake, contact the administrator.
error-csrf-title = The form was not accepted
error-csrf-text = The form expired or was sent from another site. Go back, reload the page with the form and send it again.
error-expired-title = Session expired
error-expired-text = Your session expired, so the form was not saved. Reload the page (log in again if asked) and send the form once more.
error-429-title = Too many attempts
error-429-text = Too many forms were sent from this address in a short time. Wait a minute and try again.
error-413-title = Too much data
error-413-text = The data sent is too large. Make the attachments smaller and try again.
error-500-title = Server error
error-500-text = Something went wrong on our side. The error was recorded; please try again in a moment.

ebok-title = My e-Office
ebok-customer-number = Customer number

office-title = Office
nav-office-users = Users
nav-office-users-text = Portal accounts, roles and lockouts.
nav-office-mail = Sent mail
nav-office-mail-text = E-mails sent without an SMTP server (the maildir folder).
nav-console-text = Live alarms for the operator.
mail-none = No messages.

console-title = Operator console
console-text = Live alarms, the map and the water balance will appear here.

list-filter = Filters
list-any = any
list-columns = Columns
list-per-page = Rows per page
list-apply = Apply
list-pages = List pages
list-prev = Previous page
list-next = Next page
list-export = Export
list-summary = { $count ->
    [one] { $count } item
   *[other] { $count } items
}
chart-data = Chart data

role-customer = customer
role-reader = meter reader
role-clerk = clerk
role-operator = operator
role-admin = administrator

users-login = Login
users-name = Name
users-roles = Roles
users-customer = Customer number
users-email = E-mail
users-failed = Failed logins
users-created = Created
users-chart-title = New accounts per month
users-chart-month = Month
users-chart-count = Accounts

login-register = No account yet? Register with the code on your invoice
login-forgot = Forgot your password?
register-title = Register for e-Office
register-intro = Your customer number and activation code are printed on your invoice. After registering we send an e-mail with a confirmation link.
register-number = Customer number
register-code = Activation code from the invoice
register-email = E-mail address
register-username = Login
register-password = Password (at least 10 characters)
register-password2 = Repeat the password
register-submit = Register
register-number-invalid = Enter the customer number from the invoice (digits only).
register-code-invalid = Enter the activation code from the invoice (6–32 characters).
register-code-wrong = The customer number and activation code do not match. Check them on the invoice.
register-already = This customer already has an e-Office account. Log in or reset the password.
register-email-invalid = Enter an e-mail address, e.g. jan.kowalski@example.pl.
register-username-invalid = Login: 3–64 characters, lower-case letters a–z, digits, dot, underscore or hyphen.
register-username-taken = This login is taken. Choose another.
password-too-short = The password must have at least 10 characters.
password-mismatch = The passwords differ. Type the same password twice.
register-sent-title = Check your e-mail
register-sent-text = We sent a confirmation link to { $email }. Open it to activate the account.
register-confirmed-title = Address confirmed
register-confirmed-text = The account is active. You can log in.
link-invalid-title = The link does not work
link-invalid-text = This link has expired or was already used. Ask for a new one (registration or "Forgot your password?").
mail-confirm-subject = Confirm your e-mail address for e-Office
mail-confirm-body = Hello,

    to activate your e-Office account, open this link:
    { $link }

    The link is valid for 48 hours. If you did not register, ignore this message.
reset-title = Reset the password
reset-intro = Enter the account's e-mail address. We will send a link to set a new password.
reset-submit = Send the link
reset-sent-title = Check your e-mail
reset-sent-text = If { $email } belongs to an account, we sent it a link to set a new password. The link is valid for an hour.
reset-new-title = New password
reset-new-submit = Set the password
reset-done-title = Password changed
reset-done-text = The new password works. You can log in.
mail-reset-subject = Password reset for e-Office
mail-reset-body = Hello,

    to set a new password, open this link:
    { $link }

    The link works once and is valid for an hour. If you did not ask for a reset, ignore this message.
mail-smtp = Mail goes out through the SMTP server; only messages saved earlier without it show here.
mail-maildir = No SMTP server is configured (SMTP_URL), so every message goes into the maildir folder and shows here.
mail-subject = Subject
mail-to = To
mail-date = Date
mail-back = All messages
mail-count = { $count ->
    [one] { $count } message
   *[other] { $count } messages
}
