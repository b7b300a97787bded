# Polish (first language). Every id here exists in en.ftl too (a test checks it).
skip-to-content = Przejdź do treści
nav-main = Menu główne
nav-language = Język
nav-login = Zaloguj się
nav-ebok = eBOK
nav-office = Biuro
nav-console = Konsola
logout = Wyloguj
footer = ewoda — otwarte oprogramowanie dla wodociągów: od odczytu do zapłaty.

login-title = Logowanie
login-username = Login
login-password = Hasło
login-submit = Zaloguj
login-username-missing = Podaj login.
login-password-missing = Podaj hasło.
login-wrong = Nieprawidłowy login lub hasło.
login-locked = Konto jest czasowo zablokowane po kilku nieudanych próbach logowania. Spróbuj ponownie za 15 minut albo zresetuj hasło.
login-unconfirmed = Najpierw potwierdź adres e-mail linkiem z wiadomości, którą wysłaliśmy po rejestracji.

error-home = Strona główna
error-404-title = Nie znaleziono strony
error-404-text = Tej strony nie ma albo nie masz do niej dostępu. Sprawdź adres lub wróć do strony głównej.
error-403-title = Brak dostępu
error-403-text = Twoje konto nie ma uprawnień do tej strony. Jeśli to pomyłka, skontaktuj się z administratorem.
error-csrf-title = Formularz nie został przyjęty
error-csrf-text = Formularz wygasł albo został wysłany z innej strony. Wróć, odśwież stronę z formularzem i wyślij go ponownie.
error-expired-title = Sesja wygasła
error-expired-text = Twoja sesja wygasła, dlatego formularz nie został zapisany. Odśwież stronę (w razie potrzeby zaloguj się ponownie) i wyślij formularz jeszcze raz.
error-429-title = Zbyt wiele prób
error-429-text = Z tego adresu wysłano zbyt wiele formularzy w krótkim czasie. Odczekaj minutę i spróbuj ponownie.
error-413-title = Za duże dane
error-413-text = Wysłane dane są zbyt duże. Zmniejsz załączniki i spróbuj ponownie.
error-500-title = Błąd serwera
error-500-text = Coś poszło nie tak po naszej stronie. Błąd został zapisany; spróbuj ponownie za chwilę.

ebok-title = Mój eBOK
ebok-customer-number = Numer klienta

office-title = Biuro
nav-office-users = Użytkownicy
nav-office-users-text = Konta portalu, role i blokady.
nav-office-mail = Poczta wysłana
nav-office-mail-text = Wiadomości e-mail wysłane bez serwera SMTP (folder maildir).
nav-console-text = Alarmy na żywo dla dyspozytora.
mail-none = Brak wiadomości.

console-title = Konsola dyspozytora
console-text = Tu pojawią się alarmy na żywo, mapa i bilans wody.

list-filter = Filtry
list-any = dowolne
list-columns = Kolumny
list-per-page = Wierszy na stronę
list-apply = Zastosuj
list-pages = Strony listy
list-prev = Poprzednia strona
list-next = Następna strona
list-export = Eksport
list-summary = { $count ->
    [one] { $count } pozycja
    [few] { $count } pozycje
   *[many] { $count } pozycji
}
chart-data = Dane wykresu

role-customer = klient
role-reader = inkasent
role-clerk = urzędnik
role-operator = dyspozytor
role-admin = administrator

users-login = Login
users-name = Nazwa
users-roles = Role
users-customer = Numer klienta
users-email = E-mail
users-failed = Nieudane logowania
users-created = Utworzono
users-chart-title = Nowe konta w miesiącu
users-chart-month = Miesiąc
users-chart-count = Liczba kont

login-register = Nie masz konta? Zarejestruj się kodem z faktury
login-forgot = Nie pamiętasz hasła?
register-title = Rejestracja w eBOK
register-intro = Numer klienta i kod aktywacyjny znajdziesz na fakturze. Po rejestracji wyślemy e-mail z linkiem potwierdzającym.
register-number = Numer klienta
register-code = Kod aktywacyjny z faktury
register-email = Adres e-mail
register-username = Login
register-password = Hasło (co najmniej 10 znaków)
register-password2 = Powtórz hasło
register-submit = Zarejestruj
register-number-invalid = Podaj numer klienta z faktury (same cyfry).
register-code-invalid = Podaj kod aktywacyjny z faktury (6–32 znaki).
register-code-wrong = Numer klienta i kod aktywacyjny nie pasują do siebie. Sprawdź je na fakturze.
register-already = Ten klient ma już konto w eBOK. Zaloguj się albo zresetuj hasło.
register-email-invalid = Podaj adres e-mail, np. jan.kowalski@example.pl.
register-username-invalid = Login: 3–64 znaki, małe litery bez polskich znaków, cyfry, kropka, podkreślenie lub myślnik.
register-username-taken = Ten login jest zajęty. Wybierz inny.
password-too-short = Hasło musi mieć co najmniej 10 znaków.
password-mismatch = Hasła się różnią. Wpisz to samo hasło dwa razy.
register-sent-title = Sprawdź skrzynkę e-mail
register-sent-text = Wysłaliśmy link potwierdzający na adres { $email }. Kliknij go, aby aktywować konto.
register-confirmed-title = Adres potwierdzony
register-confirmed-text = Konto jest aktywne. Możesz się zalogować.
link-invalid-title = Link nie działa
link-invalid-text = Ten link wygasł albo został już użyty. Poproś o nowy (rejestracja lub „Nie pamiętasz hasła?”).
mail-confirm-subject = Potwierdź adres e-mail w eBOK
mail-confirm-body = Dzień dobry,

    aby aktywować konto w eBOK, otwórz ten link:
    { $link }

    Link jest ważny 48 godzin. Jeśli to nie Ty zakładałeś konto, zignoruj tę wiadomość.
reset-title = Reset hasła
reset-intro = Podaj adres e-mail konta. Wyślemy link do ustawienia nowego hasła.
reset-submit = Wyślij link
reset-sent-title = Sprawdź skrzynkę e-mail
reset-sent-text = Jeśli adres { $email } należy do konta, wysłaliśmy na niego link do ustawienia nowego hasła. Link jest ważny godzinę.
reset-new-title = Nowe hasło
reset-new-submit = Ustaw hasło
reset-done-title = Hasło zmienione
reset-done-text = Nowe hasło działa. Możesz się zalogować.
mail-reset-subject = Reset hasła w eBOK
mail-reset-body = Dzień dobry,

    aby ustawić nowe hasło, otwórz ten link:
    { $link }

    Link działa raz i jest ważny godzinę. Jeśli to nie Ty prosiłeś o reset, zignoruj tę wiadomość.
mail-smtp = Poczta wychodzi przez serwer SMTP; tu widać tylko wiadomości zapisane wcześniej bez niego.
mail-maildir = Serwer nie ma skonfigurowanego SMTP (SMTP_URL), więc każda wiadomość trafia do folderu maildir i jest widoczna tutaj.
mail-subject = Temat
mail-to = Do
mail-date = Data
mail-back = Wszystkie wiadomości
mail-count = { $count ->
    [one] { $count } wiadomość
    [few] { $count } wiadomości
   *[many] { $count } wiadomości
}
