//! Word lists for the demo utility: a small Polish town, its streets and people.

/// Streets with their district (0-based) and position (micro-degrees from the town centre).
pub const STREETS: &[(&str, usize, i64, i64)] = &[
    ("Rynek", 0, 0, 0),
    ("Kościuszki", 0, 1_200, 2_500),
    ("Mickiewicza", 0, -1_800, 1_400),
    ("Słowackiego", 0, 2_600, -900),
    ("Kolejowa", 0, -2_900, -2_200),
    ("Szkolna", 0, 900, -3_100),
    ("Lipowa", 1, 6_200, 1_000),
    ("Polna", 1, 7_900, 3_300),
    ("Brzozowa", 1, 5_400, 4_800),
    ("Klonowa", 1, 8_800, -600),
    ("Jesionowa", 1, 6_900, -2_700),
    ("Ogrodowa", 1, 10_100, 2_000),
    ("Łąkowa", 2, -6_300, 1_700),
    ("Wiejska", 2, -8_100, 3_900),
    ("Źródlana", 2, -5_600, 5_200),
    ("Krótka", 2, -9_400, -800),
    ("Długa", 2, -7_200, -3_300),
    ("Żeromskiego", 2, -10_600, 1_100),
    ("Przemysłowa", 3, 1_500, -7_800),
    ("Fabryczna", 3, -1_700, -8_900),
    ("Spółdzielcza", 3, 3_300, -6_400),
    ("Osiedle Słoneczne", 3, -3_900, -6_100),
    ("Wodna", 3, 200, -10_400),
    ("Sienkiewicza", 3, 4_800, -9_600),
];

pub const DISTRICTS: &[(&str, &str)] = &[
    ("D1", "Centrum"),
    ("D2", "Wschód"),
    ("D3", "Zachód"),
    ("D4", "Południe"),
];

pub const FIRST_NAMES_F: &[&str] = &[
    "Anna",
    "Maria",
    "Katarzyna",
    "Małgorzata",
    "Agnieszka",
    "Barbara",
    "Ewa",
    "Krystyna",
    "Elżbieta",
    "Zofia",
    "Joanna",
    "Magdalena",
    "Jadwiga",
    "Aleksandra",
    "Łucja",
    "Halina",
];
pub const FIRST_NAMES_M: &[&str] = &[
    "Jan",
    "Piotr",
    "Krzysztof",
    "Andrzej",
    "Tomasz",
    "Paweł",
    "Józef",
    "Marcin",
    "Michał",
    "Grzegorz",
    "Jerzy",
    "Łukasz",
    "Stanisław",
    "Zbigniew",
    "Wojciech",
    "Ryszard",
];
/// Surnames as (masculine, feminine).
pub const LAST_NAMES: &[(&str, &str)] = &[
    ("Nowak", "Nowak"),
    ("Kowalski", "Kowalska"),
    ("Wiśniewski", "Wiśniewska"),
    ("Wójcik", "Wójcik"),
    ("Kowalczyk", "Kowalczyk"),
    ("Kamiński", "Kamińska"),
    ("Lewandowski", "Lewandowska"),
    ("Zieliński", "Zielińska"),
    ("Szymański", "Szymańska"),
    ("Woźniak", "Woźniak"),
    ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"),
    ("Jankowski", "Jankowska"),
    ("Mazur", "Mazur"),
    ("Krawczyk", "Krawczyk"),
    ("Piotrowski", "Piotrowska"),
    ("Grabowski", "Grabowska"),
    ("Pawłowski", "Pawłowska"),
    ("Michalski", "Michalska"),
    ("Żak", "Żak"),
];

pub const BUSINESSES: &[&str] = &[
    "Piekarnia",
    "Sklep spożywczy",
    "Zakład fryzjerski",
    "Apteka",
    "Warsztat samochodowy",
    "Restauracja",
    "Pizzeria",
    "Myjnia samochodowa",
    "Hotel",
    "Przychodnia",
    "Pralnia",
    "Kwiaciarnia",
    "Stacja paliw",
    "Gabinet stomatologiczny",
    "Biuro rachunkowe",
    "Kawiarnia",
];

pub const PUBLIC_BODIES: &[&str] = &[
    "Urząd Gminy",
    "Szkoła Podstawowa nr 1",
    "Szkoła Podstawowa nr 2",
    "Przedszkole Samorządowe",
    "Gminny Ośrodek Kultury",
    "Ośrodek Sportu i Rekreacji",
    "Biblioteka Publiczna",
    "Ochotnicza Straż Pożarna",
];

pub const COOPERATIVES: &[&str] = &[
    "Spółdzielnia Mieszkaniowa „Słoneczna”",
    "Spółdzielnia Mieszkaniowa „Przyszłość”",
    "Wspólnota Mieszkaniowa Kolejowa 12",
];

/// Water meter manufacturers (M-field codes) with per-mille shares: Apator dominates.
pub const MANUFACTURERS: &[(&str, &str, u64)] = &[
    ("APA", "Apator AT-WMBUS-16", 700),
    ("DME", "Diehl HYDRUS", 120),
    ("SEN", "Sensus iPERL", 100),
    ("ITW", "Itron Intelis", 80),
];
