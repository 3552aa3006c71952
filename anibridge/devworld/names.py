"""Word pools and templates for plausible titles in romaji, English and German."""

from __future__ import annotations

import random
from dataclasses import dataclass

# (romaji, English, German)
WORDS: tuple[tuple[str, str, str], ...] = (
    ("Kage", "Shadow", "Schatten"), ("Hoshi", "Star", "Stern"), ("Tsuki", "Moon", "Mond"),
    ("Ken", "Sword", "Schwert"), ("Kami", "God", "Gott"), ("Oni", "Demon", "Dämon"),
    ("Neko", "Cat", "Katze"), ("Sakura", "Cherry Blossom", "Kirschblüte"), ("Gakuen", "Academy", "Akademie"),
    ("Majo", "Witch", "Hexe"), ("Ryuu", "Dragon", "Drache"), ("Yuusha", "Hero", "Held"),
    ("Maou", "Demon Lord", "Dämonenkönig"), ("Sekai", "World", "Welt"), ("Hime", "Princess", "Prinzessin"),
    ("Kishi", "Knight", "Ritter"), ("Yume", "Dream", "Traum"), ("Sora", "Sky", "Himmel"),
    ("Umi", "Sea", "Meer"), ("Yuki", "Snow", "Schnee"), ("Hikari", "Light", "Licht"),
    ("Yami", "Darkness", "Finsternis"), ("Kokoro", "Heart", "Herz"), ("Densetsu", "Legend", "Legende"),
    ("Monogatari", "Story", "Geschichte"), ("Tantei", "Detective", "Detektiv"), ("Kaze", "Wind", "Wind"),
    ("Hana", "Flower", "Blume"), ("Koi", "Love", "Liebe"), ("Shinigami", "Death God", "Todesgott"),
    ("Tenshi", "Angel", "Engel"), ("Akuma", "Devil", "Teufel"), ("Ouji", "Prince", "Prinz"),
    ("Mura", "Village", "Dorf"), ("Shoujo", "Girl", "Mädchen"), ("Shounen", "Boy", "Junge"),
    ("Honoo", "Flame", "Flamme"), ("Kuro", "Black", "Schwarz"), ("Shiro", "Castle", "Schloss"),
    ("Mahou", "Magic", "Magie"), ("Senshi", "Warrior", "Krieger"), ("Kitsune", "Fox", "Fuchs"),
    ("Ookami", "Wolf", "Wolf"), ("Tori", "Bird", "Vogel"), ("Mori", "Forest", "Wald"),
    ("Tetsu", "Iron", "Eisen"), ("Kiseki", "Miracle", "Wunder"), ("Fukushuu", "Revenge", "Rache"),
    ("Kaizoku", "Pirate", "Pirat"), ("Ninja", "Ninja", "Ninja"), ("Samurai", "Samurai", "Samurai"),
    ("Kyoudai", "Brothers", "Brüder"), ("Toshi", "City", "Großstadt"), ("Jikan", "Time", "Zeit"),
    ("Kusari", "Chain", "Kette"), ("Tate", "Shield", "Schild"), ("Yumi", "Bow", "Bogen"),
    ("Kagami", "Mirror", "Spiegel"), ("Tobira", "Door", "Tür"), ("Kagi", "Key", "Schlüssel"),
    ("Inori", "Prayer", "Gebet"), ("Chikara", "Power", "Kraft"), ("Kizuna", "Bond", "Band"),
    ("Mirai", "Future", "Zukunft"), ("Kako", "Past", "Vergangenheit"), ("Ikari", "Wrath", "Zorn"),
    ("Namida", "Tears", "Tränen"), ("Egao", "Smile", "Lächeln"), ("Uso", "Lie", "Lüge"),
    ("Himitsu", "Secret", "Geheimnis"), ("Yakusoku", "Promise", "Versprechen"), ("Tabi", "Journey", "Reise"),
    ("Shima", "Island", "Insel"), ("Yama", "Mountain", "Berg"), ("Kawa", "River", "Fluss"),
    ("Kumo", "Cloud", "Wolke"), ("Kaminari", "Thunder", "Donner"), ("Hi", "Fire", "Feuer"),
    ("Koori", "Ice", "Eis"), ("Tsuchi", "Earth", "Erde"), ("Gin", "Silver", "Silber"),
    ("Kin", "Gold", "Gold"), ("Aka", "Crimson", "Purpur"), ("Ao", "Blue", "Blau"),
    ("Oukoku", "Kingdom", "Königreich"), ("Teikoku", "Empire", "Imperium"), ("Heishi", "Soldier", "Soldat"),
    ("Kenja", "Sage", "Weiser"), ("Seijo", "Saint", "Heilige"), ("Mahoutsukai", "Wizard", "Zauberer"),
    ("Shokunin", "Craftsman", "Handwerker"), ("Ryouri", "Cooking", "Kochkunst"), ("Uta", "Song", "Lied"),
    ("Odori", "Dance", "Tanz"), ("Matsuri", "Festival", "Fest"), ("Natsu", "Summer", "Sommer"),
    ("Fuyu", "Winter", "Winter"), ("Haru", "Spring", "Frühling"), ("Aki", "Autumn", "Herbst"),
    ("Yoru", "Night", "Nacht"), ("Asa", "Morning", "Morgen"), ("Kemono", "Beast", "Bestie"),
)

# (romaji, English, German) with placeholders a/b/c picked from WORDS
TEMPLATES: tuple[tuple[str, str, str], ...] = (  # weighted by TEMPLATE_WEIGHTS
    ("{a} no {b}", "The {b} of the {a}", "{b} des {a}"),
    ("{a} {b}", "{a} {b}", "{a}-{b}"),
    ("{a} no {b} wa {c}", "The {a} {b} Is a {c}", "Der {a}-{b} ist ein {c}"),
    ("{a} to {b}", "{a} and {b}", "{a} und {b}"),
    ("{a} Tensei", "Reincarnated as a {a}", "Wiedergeboren als {a}"),
    ("Isekai {a}", "{a} in Another World", "{a} in einer anderen Welt"),
    ("{a} no {b}: {c} Hen", "{b} of the {a}: {c} Arc", "{b} des {a}: {c}-Arc"),
    ("Boku no {a}", "My {a}", "Mein {a}"),
    ("{a}!", "{a}!", "{a}!"),
    ("{a} {b} {c}", "{a} {b} {c}", "{a} {b} {c}"),
)
TEMPLATE_WEIGHTS = (20, 10, 25, 8, 2, 2, 20, 2, 1, 10)

# Western-style series / film names: (original English, German)
WEST_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("The {a} {b}", "Der {a} {b}"),
    ("{city} {job}", "{city} {job_de}"),
    ("The {a} Files", "Die {a}-Akten"),
    ("{name} & {name2}", "{name} & {name2}"),
    ("{a} of {b}", "{a} der {b}"),
    ("Dr. {name}", "Dr. {name}"),
    ("{name}'s {a}", "{name}s {a}"),
    ("The Last {a}", "Der letzte {a}"),
    ("{city}: {a} & {b}", "{city}: {a} & {b}"),
    ("{a} & {b}", "{a} & {b}"),
    ("{name} {a}", "{name} {a}"),
    ("The {a}", "Der {a}"),
)
WEST_WEIGHTS = (20, 2, 4, 2, 20, 1, 8, 3, 15, 15, 8, 1)
CITIES = ("Berlin", "Miami", "Köln", "München", "Chicago", "Hamburg", "Boston", "Zürich", "Wien", "Dallas",
          "Düsseldorf", "Seattle", "Atlanta", "Graz", "Lübeck", "Denver", "Phoenix", "Bremen")
JOBS = (("Detective", "Detektiv"), ("Medical", "Klinik"), ("Law", "Kanzlei"), ("Heat", "Hitze"),
        ("Vice", "Sitte"), ("Rescue", "Rettung"), ("Files", "Akten"), ("Homicide", "Mordkommission"))
PEOPLE = ("Jessica", "Jürgen", "Marlene", "Zoë", "Björn", "Ada", "Frank", "Lou", "Mia", "Sören", "Hank", "Lotte",
          "Günther", "Emma", "Noah", "Chloé", "Ole", "Greta", "Walter", "Jolene", "Maxi", "Rosa", "Theo", "Ines")

# (German, English) episode title templates
EPISODE_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("Die Rückkehr des {x}", "The Return of the {x}"), ("{x} und {y}", "{x} and {y}"),
    ("Der letzte {x}", "The Last {x}"), ("Ein neuer Anfang", "A New Beginning"),
    ("Das Geheimnis der {x}", "The Secret of the {x}"), ("Kampf um {x}", "Battle for {x}"),
    ("Ärger in {city}", "Trouble in {city}"), ("Größer als {x}", "Bigger Than {x}"),
    ("Über {x} hinaus", "Beyond the {x}"), ("Die Nacht der {x}", "Night of the {x}"),
    ("Schöne Grüße vom {x}", "Greetings from the {x}"), ("Finale: {x}", "Finale: {x}"),
)

GENRES = ("Action", "Abenteuer", "Drama", "Fantasy", "Komödie", "Romanze", "Krimi", "Mystery",
          "Sci-Fi", "Slice of Life", "Horror", "Sport", "Thriller", "Historisch")


@dataclass(frozen=True, slots=True)
class Names:
    """Base names of one title; romaji is empty for non-anime."""

    romaji: str
    english: str
    german: str


def anime_names(r: random.Random) -> Names:
    romaji_t, english_t, german_t = r.choices(TEMPLATES, weights=TEMPLATE_WEIGHTS)[0]
    a, b, c = r.sample(WORDS, 3)
    return Names(
        romaji=romaji_t.format(a=a[0], b=b[0], c=c[0]),
        english=english_t.format(a=a[1], b=b[1], c=c[1]),
        german=german_t.format(a=a[2], b=b[2], c=c[2]),
    )


def western_names(r: random.Random) -> Names:
    english_t, german_t = r.choices(WEST_TEMPLATES, weights=WEST_WEIGHTS)[0]
    a, b = r.sample(WORDS, 2)
    job = r.choice(JOBS)
    name, name2 = r.sample(PEOPLE, 2)
    city = r.choice(CITIES)
    common = {"city": city, "name": name, "name2": name2, "job": job[0], "job_de": job[1]}
    return Names(
        romaji="",
        english=english_t.format(a=a[1], b=b[1], **common),
        german=german_t.format(a=a[2], b=b[2], **common),
    )


def episode_titles(r: random.Random) -> tuple[str, str]:
    german_t, english_t = r.choice(EPISODE_TEMPLATES)
    x, y = r.sample(WORDS, 2)
    city = r.choice(CITIES)
    return german_t.format(x=x[2], y=y[2], city=city), english_t.format(x=x[1], y=y[1], city=city)


def description(r: random.Random, names: Names) -> str:
    hero, place = r.sample(WORDS, 2)
    return (
        f"„{names.german}“ erzählt die Geschichte eines {hero[2]}s, der in der Welt der {place[2]} "
        f"nach Antworten sucht. Dabei stößt er auf Freunde, Feinde und große Gefühle."
    )
