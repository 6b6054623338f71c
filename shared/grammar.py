"""English for messages and API docs built from a noun ("Create an achievement", not "a achievement")."""

# Nouns spelled with a vowel but said with a consonant sound ("a user"), and the reverse is not needed
# for the nouns we have (none starts with a silent h).
_CONSONANT_SOUNDED = ("uni", "use", "usa", "usu", "eu", "one")


def with_article(noun: str) -> str:
    """The noun after its indefinite article: "an achievement", "a skill", "a user", "an API client"."""
    lowered = noun.lower()
    vowel_sound = lowered[:1] in "aeiou" and not lowered.startswith(_CONSONANT_SOUNDED)
    return f"{'an' if vowel_sound else 'a'} {noun}"
