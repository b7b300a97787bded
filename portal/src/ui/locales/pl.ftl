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

## ebok: money
ebok-money-nav = Rozliczenia
ebok-back = Powrót do eBOK
ebok-premises = Punkt poboru
ebok-premises-choose = Wybierz punkt poboru (umowę)
ebok-premises-show = Pokaż
ebok-balance-title = Saldo
ebok-overpayment = Nadpłata
ebok-to-pay = Do zapłaty
ebok-overdue = W tym po terminie
ebok-settled = Brak zaległości
ebok-next-due = Najbliższa płatność
ebok-pay-online = Zapłać online
ebok-transfer-title = Dane do przelewu
ebok-account = Indywidualny numer konta
ebok-copy = Kopiuj numer konta
ebok-copied = Skopiowano
ebok-no-account = Numer konta zostanie nadany wkrótce.
ebok-recipient = Odbiorca
ebok-title-transfer = Tytuł przelewu
ebok-amount = Kwota
ebok-qr-label = Kod QR do zapłaty w aplikacji banku
ebok-last-reading = Ostatni odczyt
ebok-no-reading = Brak odczytów.
ebok-meter = wodomierz
ebok-alarms-title = Alarmy
ebok-no-alarms = Brak otwartych alarmów.
ebok-notices-title = Wezwania i noty odsetkowe
ebok-no-notices = Brak wezwań i not odsetkowych.
ebok-notice-reminder = Wezwanie do zapłaty
ebok-notice-interest_note = Nota odsetkowa
ebok-invoices-title = Faktury
ebok-payments-title = Płatności
ebok-documents-title = Dokumenty
ebok-invoice = Faktura
ebok-status-open = do zapłaty
ebok-status-overdue = po terminie
ebok-status-paid = zapłacona
invoice-number = Numer
invoice-kind = Rodzaj
invoice-kind-VAT = faktura VAT
invoice-kind-KOR = korekta
invoice-issued = Data wystawienia
invoice-due = Termin płatności
invoice-gross = Brutto
invoice-open = Pozostało do zapłaty
invoice-status = Status
invoice-ksef = Numer KSeF
invoice-ksef-none = jeszcze nie nadany
invoice-period = Okres
invoice-corrects = Koryguje fakturę
invoice-pdf = Pobierz PDF
invoice-lines-title = Pozycje
invoice-item = Pozycja
invoice-quantity = Ilość
invoice-unit-price = Cena netto
invoice-net = Netto
invoice-vat = VAT
invoice-vat-rate = Stawka VAT
invoice-vat-title = Podsumowanie VAT według stawek
invoice-total = Razem
invoice-estimated = szacunek
invoice-corrections = Korekty
invoice-no-corrections = Brak korekt.
invoice-payments = Wpłaty
invoice-no-payments = Brak wpłat.
pay-title = Zapłać online
pay-nothing = Nie masz nic do zapłaty.
pay-choose-legend = Wybierz faktury do zapłaty
pay-choose = Zaznacz co najmniej jedną fakturę do zapłaty.
pay-not-open = Wybrana faktura nie jest już do zapłaty. Odśwież listę i wybierz ponownie.
pay-unavailable = Płatności online są chwilowo niedostępne.
pay-submit = Przejdź do płatności
pay-history = Historia wpłat
pay-count = { $count ->
    [one] { $count } wpłata
    [few] { $count } wpłaty
   *[many] { $count } wpłat
}
pay-booked = Data księgowania
pay-source = Sposób
pay-allocations = Na poczet
pay-source-mt940 = przelew
pay-source-csv = przelew
pay-source-online = płatność online
pay-source-cash = gotówka
pay-source-manual = wpłata
pay-return-title = Wynik płatności
pay-state-paid = Płatność przyjęta
pay-state-registered = Czekamy na potwierdzenie od operatora płatności
pay-state-registering = Płatność w toku
pay-state-failed = Płatność nie powiodła się
pay-state-none = Nie znaleziono rozpoczętej płatności.
doc-contracts = Umowy i aneksy
doc-issued = Wystawione dokumenty
doc-none = Brak dokumentów.
doc-title = Dokument
doc-kind = Rodzaj
doc-download = Pobierz
doc-kind-invoice = faktura
doc-kind-correction = korekta
doc-kind-reminder = wezwanie do zapłaty
doc-kind-interest_note = nota odsetkowa
doc-kind-contract = umowa
doc-kind-annex = aneks
doc-kind-other = inny
notice-principal = Należność
notice-interest = Odsetki
