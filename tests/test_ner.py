"""NER building blocks: CoNLL reading, BIO repair, sub-word alignment, entity-level scores, the baseline."""

from __future__ import annotations

import pytest

from core import ner
from core.errors import DataError

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_read_conll_takes_first_and_last_columns_and_skips_docstart(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(CONLL_2003)
    frame = ner.read_conll(path)
    assert frame["tokens"].tolist() == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert frame["tags"].tolist() == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]


def test_read_conll_with_tabs_and_no_trailing_blank_line(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("New\tB-LOC\nYork\tI-LOC\n\n\nis\tO")
    assert ner.read_conll(path)["tokens"].tolist() == [["New", "York"], ["is"]]


def test_read_conll_line_without_tag_names_the_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("Ada B-PER\nLovelace\n")
    with pytest.raises(DataError, match="line 2"):
        ner.read_conll(path)


@pytest.mark.parametrize(("tags", "expected", "changed"), [
    (["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"], 0),
    (["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"], 1),          # IOB1: entity starting with I-
    (["O", "I-LOC", "B-LOC", "I-PER"], ["O", "B-LOC", "B-LOC", "B-PER"], 2),  # I- of another type starts anew
    (["PER", "PER", "O"], ["B-PER", "I-PER", "O"], 2),                # IO scheme
])
def test_repair_bio(tags, expected, changed):
    assert ner.repair_bio(tags) == (expected, changed)


def test_tag_set_has_o_first_and_both_prefixes_per_type():
    assert ner.tag_set([["B-PER", "O"], ["I-LOC"]]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_align_labels_labels_first_sub_token_only():
    # [CLS] Lovelace(love ##lace) lives [SEP]
    word_ids = [None, 0, 0, 1, None]
    assert ner.align_labels(word_ids, [3, 0]) == [-100, 3, -100, 0, -100]


def test_alignment_with_the_bundled_tokenizer_splits_a_rare_word():
    from transformers import AutoTokenizer

    from core.catalogue import find_entry, package_folder

    tokenizer = AutoTokenizer.from_pretrained(package_folder(find_entry("all-minilm-l6-v2").location))
    encoded = tokenizer(["Pxleyes", "rocks"], is_split_into_words=True)
    aligned = ner.align_labels(encoded.word_ids(), [1, 0])
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    first, rest = encoded.word_ids().index(0), [i for i, w in enumerate(encoded.word_ids()) if w == 0][1:]
    assert rest, pieces  # the rare word is split into several pieces
    assert aligned[first] == 1 and all(aligned[i] == -100 for i in rest)
    assert aligned.count(1) == 1 and aligned.count(0) == 1


def test_entity_metrics_are_strict_on_boundaries_and_type():
    truth = [["B-PER", "I-PER", "O", "B-LOC"]]
    exact = ner.entity_metrics(truth, truth)
    assert exact["f1"] == 1.0
    # PER span cut short (wrong boundary) and LOC right: 1 of 2 predicted correct, 1 of 2 true found
    partial = ner.entity_metrics(truth, [["B-PER", "O", "O", "B-LOC"]])
    assert partial["precision"] == pytest.approx(0.5) and partial["recall"] == pytest.approx(0.5)
    wrong_type = ner.entity_metrics([["B-PER"]], [["B-LOC"]])
    assert wrong_type["f1"] == 0.0


def test_per_type_table_has_support_per_type():
    table = ner.per_type_table([["B-PER", "O", "B-LOC", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    rows = {r["label"]: r for r in table}
    assert rows["PER"]["f1"] == 1.0 and rows["LOC"]["support"] == 2 and rows["LOC"]["recall"] == 0.5


def test_entities_spans():
    spans = ner.entities(["Ada", "Lovelace", "in", "London"], ["B-PER", "I-PER", "O", "B-LOC"])
    assert [(s["type"], s["start"], s["end"], s["text"]) for s in spans] == [
        ("PER", 0, 2, "Ada Lovelace"), ("LOC", 3, 4, "London")]


def test_memorising_tagger_predicts_the_most_frequent_training_tag():
    tagger = ner.MemorisingTagger().fit([["New", "York", "is", "big"], ["york", "rocks"]],
                                        [["B-LOC", "I-LOC", "O", "O"], ["B-LOC", "O"]])
    assert tagger.predict([["New", "York", "unknown"]]) == [["B-LOC", "I-LOC", "O"]]
