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
## ebok: meters and profile
nav-meters = Wodomierze i odczyty
nav-profile = Moje dane i zgody
nav-applications = Wnioski
meters-title = Wodomierze i odczyty
meters-alarms = Alarmy Twoich wodomierzy
meters-none = Brak wodomierzy w tym lokalu.
meters-no-premises = Nie masz lokalu z umową.
meters-back = ← Wszystkie wodomierze
meter-title = Wodomierz
meter-serial = Numer wodomierza
meter-role = Rodzaj
meter-role-main = wodomierz główny
meter-role-sub = podlicznik (np. ogrodowy)
meter-removed = zdemontowany
meter-removed-note = Ten wodomierz został zdemontowany; odczyty można podawać tylko dla zamontowanych wodomierzy.
meter-last-reading = Ostatni odczyt
meter-last-date = Data odczytu
meter-verified-until = Legalizacja ważna do
meter-use = Zużycie
meter-granularity = Zużycie na
meter-g-day = Dzień
meter-g-month = Miesiąc
meter-g-year = Rok
meter-chart-day = Zużycie dzienne, ostatnie 30 dni
meter-chart-month = Zużycie miesięczne, ostatnie 12 miesięcy
meter-chart-year = Zużycie roczne, ostatnie 5 lat
meter-period = Okres
meter-use-m3 = Zużycie (m³)
meter-compare = Porównanie z tym samym okresem rok wcześniej
meter-this-period = Ten okres
meter-last-year = Rok wcześniej
meter-total = Razem
meter-history = Historia odczytów
meter-history-pages = Strony historii odczytów
meter-no-readings = Brak odczytów.
pager-prev = Poprzednia
pager-next = Następna
alarm-since = Od
alarm-advice = Co zrobić:
alarm-severity-info = informacja
alarm-severity-warning = ostrzeżenie
alarm-severity-critical = pilne
reading-date = Data odczytu
reading-value = Odczyt (m³)
reading-value-help = Wpisz wszystkie czarne cyfry i czerwone po przecinku, np. 123,456.
reading-note = Uwagi dla biura (nieobowiązkowe)
reading-photo = Zdjęcie licznika (nieobowiązkowe, JPEG, PNG lub PDF, do 10 MB)
reading-photo-help = Zdjęcie pomaga biuru szybko przyjąć odczyt.
reading-send = Wyślij odczyt
reading-submit-title = Podaj odczyt
reading-sent = Dziękujemy. Odczyt został wysłany i czeka na przyjęcie przez biuro.
reading-pending-note = Odczyt tego wodomierza czeka na biuro; kolejny możesz podać po jego rozpatrzeniu.
reading-source = Kto odczytał
reading-source-remote = odczyt zdalny
reading-source-reader = inkasent
reading-source-customer = Ty (eBOK)
reading-source-estimate = szacunek
submissions-title = Odczyty podane przez Ciebie
submissions-none = Nie podano jeszcze żadnego odczytu.
submission-status = Stan
submission-answer = Odpowiedź biura
submission-pending = oczekuje — czeka na biuro
submission-accepted = przyjęty
submission-rejected = odrzucony
meter-err-value-number = Wpisz odczyt jako liczbę, np. 123,456.
meter-err-value-invalid = Odczyt nie może być ujemny, może mieć najwyżej 6 miejsc po przecinku i musi mieścić się w liczydle wodomierza.
meter-err-below-last = Odczyt jest niższy niż ostatni odczyt tego wodomierza. Sprawdź cyfry (wymieniony wodomierz liczy od własnego stanu przy montażu).
meter-err-implausible = Odczyt oznacza znacznie więcej wody, niż ten wodomierz dotąd zużywał. Sprawdź cyfry; jeśli są dobre, dodaj uwagę i zdjęcie.
meter-err-date-format = Wpisz datę odczytu, np. 2026-12-01.
meter-err-date-range = Data nie może być z przyszłości, sprzed ponad 31 dni ani sprzed montażu wodomierza.
meter-err-note-long = Uwagi mogą mieć najwyżej 500 znaków.
meter-err-pending = Odczyt tego wodomierza już czeka na biuro.
meter-err-removed = Ten wodomierz nie jest już zamontowany w Twoim lokalu.
meter-err-other = Nie udało się przyjąć odczytu. Sprawdź formularz i spróbuj ponownie.
upload-err-too-large = Plik jest za duży: najwyżej 10 MB.
upload-err-type = Przyjmujemy tylko pliki PDF, JPEG i PNG.
upload-err-empty = Plik jest pusty.
upload-err-not-yours = Nie udało się dołączyć pliku; wyślij go ponownie.
profile-title = Moje dane i zgody
profile-saved-contact = Wniosek o zmianę danych został wysłany. Biuro go sprawdzi; jego stan widzisz poniżej.
profile-saved-consents = Zgody zostały zapisane.
profile-saved-preferences = Ustawienia powiadomień zostały zapisane.
profile-contact = Dane kontaktowe
profile-name = Imię i nazwisko / nazwa
profile-email = E-mail
profile-phone = Telefon
profile-change = Poproś o zmianę danych kontaktowych
profile-change-help = Wypełnij tylko to, co ma się zmienić. Zmianę zatwierdza biuro; do tego czasu obowiązują obecne dane.
profile-new-email = Nowy adres e-mail
profile-new-phone = Nowy numer telefonu
profile-send-change = Wyślij wniosek o zmianę
profile-requests = Twoje wnioski o zmianę danych
profile-requested-at = Wysłano
profile-changes = Zmiany
request-pending = czeka na biuro
request-approved = zatwierdzony
request-rejected = odrzucony
profile-err-email = Wpisz adres e-mail, np. imie@example.pl.
profile-err-phone = Wpisz numer telefonu: 9–15 cyfr, opcjonalnie z + na początku.
profile-err-nothing = Wpisz nowy adres e-mail lub numer telefonu.
profile-err-pending = Poprzedni wniosek o zmianę danych wciąż czeka na biuro.
profile-consents = Zgody
profile-consents-legend = Wyrażam zgodę na
consent-marketing = informacje marketingowe przedsiębiorstwa
consent-commercial = oferty handlowe partnerów
consent-einvoice = faktury e-mailem zamiast papierowych (e-faktura)
consent-since = od
profile-save-consents = Zapisz zgody
profile-consent-history = Historia Twoich zgód
consent-when = Kiedy
consent-what = Zgoda
consent-state = Decyzja
consent-channel = Gdzie
consent-granted = udzielona
consent-withdrawn = wycofana
consent-channel-ebok = eBOK
consent-channel-office = biuro obsługi klienta
consent-channel-paper = formularz papierowy
profile-notifications = Powiadomienia
profile-notifications-help = Jakie wiadomości chcesz dostawać i jak
profile-topic = Temat
channel-email = E-mail
channel-sms = SMS
channel-push = Powiadomienie w przeglądarce
topic-new-invoice = Nowa faktura
topic-payment-due = Zbliżający się termin płatności
topic-overdue = Zaległa płatność
topic-readings-planned = Planowany odczyt wodomierza
topic-leak-alarm = Alarm wycieku
topic-case-status = Stan mojego wniosku
topic-area-warning = Ostrzeżenia dla mojej okolicy
profile-save-notifications = Zapisz ustawienia powiadomień
apps-title = Wnioski
apps-new = Nowy wniosek
apps-none = Nie złożono jeszcze żadnego wniosku.
apps-yours = Twoje wnioski
apps-back = ← Twoje wnioski
apps-back-forms = ← Wszystkie formularze
app-number = Numer sprawy
app-kind = Wniosek
app-submitted-at = Złożono
app-required-note = Pola oznaczone * są wymagane.
app-attachments = { $count ->
    [one] Załącznik (PDF, JPEG lub PNG, najwyżej { $count } plik, do 10 MB)
    [few] Załączniki (PDF, JPEG lub PNG, najwyżej { $count } pliki, do 10 MB każdy)
   *[many] Załączniki (PDF, JPEG lub PNG, najwyżej { $count } plików, do 10 MB każdy)
}
app-send = Złóż wniosek
app-case = Sprawa
app-filed = Treść wniosku
app-files = Załączone pliki
app-history = Historia sprawy
app-event = Co się stało
app-yes = tak
app-no = nie
app-err-required = To pole jest wymagane.
app-err-date = Wpisz datę, np. 2026-12-01.
app-err-number = Wpisz liczbę, np. 12,5.
app-err-email = Wpisz adres e-mail, np. imie@example.pl.
app-err-phone = Wpisz numer telefonu: 9–15 cyfr, opcjonalnie z + na początku.
app-err-select = Wybierz jedną z możliwości.
app-err-iban = Wpisz numer polskiego rachunku bankowego (26 cyfr).
app-err-text = Tekst jest za długi.
app-err-attachments = Ten formularz przyjmuje mniej załączników (albo żadnych).
case-status-draft = szkic
case-status-submitted = złożony
case-status-in-progress = w toku
case-status-waiting-for-customer = czeka na Ciebie
case-status-approved = zatwierdzony
case-status-rejected = odrzucony
case-status-done = zakończony
case-event-submitted = złożono
case-event-note = uwaga biura
footer-help = Pomoc
footer-accessibility = Deklaracja dostępności
a11y-title = Deklaracja dostępności
a11y-entity = Przedsiębiorstwo wodociągowo-kanalizacyjne prowadzące ten serwis
a11y-contact-person = biuro obsługi klienta
a11y-contact-email = dostepnosc@ewoda.example
a11y-contact-phone = +48 22 000 00 00
a11y-building = Biuro obsługi klienta znajduje się na parterze, wejście bez schodów; dostępna jest pętla indukcyjna i tłumacz języka migowego (na życzenie zgłoszone 3 dni robocze wcześniej). Można wejść z psem asystującym.
help-title = Pomoc
help-intro = Odpowiedzi na najczęstsze pytania o eBOK, elektroniczne biuro obsługi klienta.
help-login-h = Logowanie i rejestracja
help-login = Zarejestruj się numerem klienta i kodem aktywacyjnym z faktury. Po potwierdzeniu adresu e-mail logujesz się loginem i hasłem. Jeśli nie pamiętasz hasła, użyj odnośnika do zmiany hasła na stronie logowania.
help-readings-h = Podawanie odczytu wodomierza
help-readings = Otwórz „Wodomierze i odczyty”, wybierz wodomierz i wpisz wszystkie czarne cyfry oraz czerwone po przecinku. Możesz dołączyć zdjęcie licznika. Odczyt czeka na przyjęcie przez biuro; jego stan widać pod formularzem.
help-alarms-h = Alarmy wodomierzy
help-alarms = Wodomierze zdalne ostrzegają o ciągłym przepływie (możliwy wyciek), bardzo dużym przepływie, cofaniu się wody, ingerencji i braku danych. Każdy alarm na stronie wodomierzy mówi, co się stało i co zrobić.
help-invoices-h = Faktury i płatności
help-invoices = Faktury, ich pliki PDF i płatności są w eBOK. Każdy klient ma indywidualny numer rachunku do przelewów; można też zapłacić online.
help-applications-h = Wnioski
help-applications = W „Wnioskach” złożysz m.in. wniosek o warunki techniczne, umowę, sprawdzenie wodomierza czy zwrot nadpłaty. Każdy dostaje numer sprawy, a Ty widzisz jej stan.
help-data-h = Twoje dane, zgody i powiadomienia
help-data = W „Moich danych i zgodach” poprosisz o zmianę e-maila lub telefonu (zatwierdza ją biuro), zdecydujesz o zgodach i wybierzesz powiadomienia e-mailem, SMS-em lub w przeglądarce.
help-contact-h = Kontakt i dostępność
help-contact = Jeśli coś nie działa lub jest trudne w użyciu, skontaktuj się z biurem obsługi klienta. Przeczytaj też
pwa-name = ewoda — eBOK
push-title = Powiadomienia w przeglądarce (Web Push)
push-needs-js = Powiadomienia w przeglądarce wymagają JavaScriptu i przeglądarki obsługującej Web Push. Pozostałe kanały (e-mail, SMS) działają bez nich.
push-devices = { $count ->
    [0] Żadna przeglądarka nie jest zapisana na powiadomienia.
    [one] Na powiadomienia zapisana jest { $count } przeglądarka.
    [few] Na powiadomienia zapisane są { $count } przeglądarki.
   *[many] Na powiadomienia zapisanych jest { $count } przeglądarek.
}
push-subscribe = Włącz powiadomienia w tej przeglądarce
push-unsubscribe = Wyłącz powiadomienia w tej przeglądarce
push-send-test = Wyślij mi powiadomienie testowe
push-on = Ta przeglądarka otrzymuje powiadomienia.
push-none = Ta przeglądarka nie otrzymuje powiadomień.
push-denied = Przeglądarka zablokowała powiadomienia dla tej strony: zezwól na nie w ustawieniach przeglądarki.
push-unsupported = Ta przeglądarka nie obsługuje powiadomień Web Push.
push-failed = Nie udało się zmienić subskrypcji. Spróbuj ponownie.
push-off = Powiadomienia Web Push są wyłączone na tym serwerze.
push-sent = { $count ->
    [0] Nie wysłano powiadomienia: żadna przeglądarka nie jest zapisana.
    [one] Wysłano powiadomienie testowe do { $count } przeglądarki.
   *[other] Wysłano powiadomienie testowe do { $count } przeglądarek.
}
push-test-title = Powiadomienie testowe eBOK
push-test-body = Powiadomienia działają. Tak dowiesz się o nowej fakturze, terminie płatności lub awarii.
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
