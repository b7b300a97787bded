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
