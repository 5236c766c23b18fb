"""Generated ads for the benchmarks: deterministic, sized, of four kinds.

    clean    ordinary retail ads: furniture, phones, courses (approved)
    evasive  protected-wildlife offers in disguise: leetspeak, look-alike
             letters, spaced and stretched letters, invisible characters,
             hashtags, misspellings, a price (rejected)
    benign   the traps a keyword filter gets wrong: ivory wedding dresses,
             Tiger Balm, shelter adoptions, faux fur, pet food (approved)
    mixed    several languages and scripts in one ad (Swedish, German,
             French, Spanish, Vietnamese, Chinese), some with an offer

`ads(kind, size, n, seed)` returns `n` valid submissions whose text fields
add up to about `size` UTF-8 bytes. The same seed gives the same ads.
"""

from __future__ import annotations

import json
import random

SIZES = {"200B": 200, "1KB": 1024, "5KB": 5 * 1024}
KINDS = ("clean", "evasive", "benign", "mixed")
MAX_BODY = 5000  # characters: the submission contract's limit

_CLEAN = [
    "Solid oak dining table seats six, oiled finish, delivered assembled.",
    "Refurbished smartphones with a two-year warranty and free returns.",
    "Learn conversational Spanish online in twelve weeks with native tutors.",
    "Hand-thrown stoneware mugs, dishwasher safe, glazed in soft blue.",
    "Winter tyres fitted while you wait, book a slot at any branch.",
    "Organic coffee beans roasted every Monday and shipped the same day.",
    "Family dentist accepting new patients, evening appointments available.",
    "Mountain bikes for every trail, test rides every Saturday morning.",
    "Waterproof hiking boots with a lifetime resoling service included.",
    "Noise-cancelling headphones, thirty hours of battery, fast charging.",
    "Weekly meal kits with fresh local vegetables and easy recipes.",
    "Cosy knitted blankets made from recycled wool in six colours.",
]
_EVASIVE = [
    "Genuine 1v0ry bangle, old estate piece, $450 shipped discreetly.",
    "R.h.i.n.o h.o.r.n powder, top grade, DM for price, €900.",
    "Real tyger claw pendant set in silver, amulet, $190 plus shipping.",
    "#RhinoHornForSale #GenuineIvory fast worldwide delivery.",
    "Carved ivоry netsuke (Meiji), £300 or nearest offer.",
    "Pangolin sc\u200bales, dried, bulk price $120 per kg.",
    "iiivvvooorrryyy chess set, antique, $800 firm.",
    "T i g e r  b o n e wine, aged ten years, $260 a bottle.",
    "Shark fin and tortoiseshell combs, wholesale, message for list, $75.",
    "Elephant tusk carving, 40 cm, certificate not needed, $2,400.",
]
_BENIGN = [
    "Ivory satin wedding dress with lace sleeves, sizes 6 to 18.",
    "Tiger Balm muscle rub, the original red, pack of three.",
    "Adopt, don't shop: cats and dogs at the shelter this weekend, vaccinated.",
    "Faux fur throw, plush and warm, machine washable.",
    "Premium dry dog food 12 kg, grain free, free delivery.",
    "Ivory Coast cocoa, fair trade, single origin chocolate bars.",
    "Resin elephant figurine for the garden, weatherproof.",
    "Bone china tea set for six, hand painted roses.",
    "Visit the tigers at the city zoo, family tickets half price.",
    "Ivory colour paint, matt finish, 2.5 litres.",
]
_MIXED = [
    "Kattungar säljes, tre stycken, 800 kr styck.",
    "Schöne Holzmöbel aus Eiche, handgefertigt in Bayern.",
    "Canapé en lin, livraison gratuite dans toute la France.",
    "Zapatos de cuero hechos a mano, envío gratis.",
    "Bàn gỗ sồi, giao hàng miễn phí trong thành phố.",
    "手工陶瓷茶具，全国包邮。",
    "Armband i elfenben, gammalt, 2 000 kr.",
    "Figura de marfil tallada, antigua, 300 €.",
    "Vente de corne de rhinocéros, prix sur demande.",
    "象牙雕刻，价格面议。",
    "Stickad ullfilt i sex färger, fri frakt.",
    "Bio-Kaffeebohnen, jeden Montag frisch geröstet.",
]
_POOLS = {"clean": _CLEAN, "evasive": _EVASIVE, "benign": _BENIGN, "mixed": _MIXED}
_HEADLINES = {
    "clean": ["Spring sale on home and garden", "New arrivals this week", "Book today, pay later"],
    "evasive": ["Rare collectibles, discreet shipping", "Old estate pieces", "Traditional remedies"],
    "benign": ["Bridal collection 2026", "Pet supplies sale", "Weekend at the shelter"],
    "mixed": ["Rea på allt / Sale on everything", "Angebote der Woche", "Offres de la semaine"],
}
_KEYWORDS = {
    "clean": ["furniture", "oak", "sale", "delivery", "warranty"],
    "evasive": ["collectible", "antique", "rare", "amulet", "estate"],
    "benign": ["wedding", "dress", "pets", "adoption", "faux"],
    "mixed": ["möbler", "Angebot", "livraison", "envío", "包邮"],
}
_LANGUAGE = {"clean": "en", "evasive": "en", "benign": "en", "mixed": "sv"}


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


def make_ad(kind: str, size: int, rng: random.Random, index: int = 0) -> dict:
    """One submission of `kind` whose text fields add up to about `size` bytes."""
    pool = _POOLS[kind]
    headline = rng.choice(_HEADLINES[kind])
    ad = {"advertiser_id": f"bench-{kind}-{index % 97}", "headline": headline, "language": _LANGUAGE[kind]}
    used = _nbytes(headline)
    if size >= 1024:
        ad["keywords"] = rng.sample(_KEYWORDS[kind], 3)
        ad["landing_url"] = f"https://shop.example/{kind}/item-{rng.randrange(10_000)}"
        used += sum(_nbytes(k) for k in ad["keywords"]) + _nbytes(ad["landing_url"])
    # Always one sentence of the kind itself (the signal), then filler drawn
    # from the same kind's pool (evasive ads are mostly ordinary text around it).
    sentences = [rng.choice(pool)]
    filler = _CLEAN if kind == "evasive" else pool
    body_budget = max(40, size - used)
    body = " ".join(sentences)
    while _nbytes(body) < body_budget:
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(filler))
        body = " ".join(sentences)
    while _nbytes(body) > body_budget and len(sentences) > 1:
        sentences.pop(rng.randrange(len(sentences)))
        body = " ".join(sentences)
    ad["body"] = body[:MAX_BODY]
    return ad


def ads(kind: str, size: int, n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(f"{seed}:{kind}:{size}")
    return [make_ad(kind, size, rng, i) for i in range(n)]


def corpus(size: int, n_per_kind: int, seed: int = 1) -> list[tuple[str, dict]]:
    """(kind, ad) pairs, every kind interleaved."""
    by_kind = {k: ads(k, size, n_per_kind, seed) for k in KINDS}
    return [(k, by_kind[k][i]) for i in range(n_per_kind) for k in KINDS]


def text_bytes(ad: dict) -> int:
    """The UTF-8 size of an ad's text fields (what SIZES measure)."""
    n = 0
    for key in ("headline", "body", "landing_url", "on_screen_text", "transcript"):
        n += _nbytes(ad.get(key) or "")
    return n + sum(_nbytes(k) for k in ad.get("keywords") or [])


if __name__ == "__main__":  # a look at what is generated
    for kind in KINDS:
        for label, size in SIZES.items():
            ad = ads(kind, size, 1)[0]
            print(f"{kind:8} {label:5} {text_bytes(ad):5} B  {json.dumps(ad, ensure_ascii=False)[:160]}…")
