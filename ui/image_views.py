"""What the Data, Augment and Evaluate steps show for image classification: class folders, thumbnails,
findings, an augmentation grid, mistakes as pictures and a Try-it box with an upload or the camera."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import tasks
from core.errors import FineTuneError
from core.findings import Finding
from core.image_augmentation import IMAGE_AUGMENTERS, preview_image_augmentations
from core.image_checks import image_findings
from core.image_data import load_image, load_image_split
from core.inference import predict_images
from core.rundir import RunDir
from core.workspace import store_upload
from ui import charts, state, task_views
from ui.data_access import _stamp, cached_prepare, predictor_for, prepared_or_stop

THUMBS_PER_CLASS = 6
MISTAKES_SHOWN = 24
ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


@st.cache_data(max_entries=4, show_spinner="Checking every image…")
def cached_findings(source: str, stamp: float) -> list[Finding]:
    frame, skipped = load_image_split(source, state.config())
    return image_findings(frame, skipped)


def _store(upload, prefix: str = "") -> str | None:
    """The stored ZIP's path, or None after showing why it was refused (too large, not a ZIP)."""
    try:
        return str(store_upload(state.wizard()["project"], prefix + upload.name, upload.getvalue(), kind="images"))
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        return None


def upload_section(wiz: dict) -> None:
    """The ZIP uploaders for the training images and optional validation/test images."""
    upload = st.file_uploader("Upload a ZIP of images, one folder per class", type=["zip"],
                              help="e.g. photos.zip holding cats/1.jpg, cats/2.jpg, dogs/1.jpg … Any image format; "
                                   "any colour mode is converted to RGB.")
    if upload is not None and upload.name != wiz["data"].get("source_name") and (path := _store(upload)):
        state.update(data={"train": path, "source_name": upload.name, "columns_ok": False})
        st.rerun()
    with st.expander("Held-out images and split"):
        for split in ("validation", "test"):
            extra = st.file_uploader(f"Optional {split} ZIP", type=["zip"], key=f"image_{split}")
            if extra is not None and wiz["data"].get(f"{split}_name") != extra.name \
                    and (path := _store(extra, f"{split}-")):
                state.update(data={**wiz["data"], split: path, f"{split}_name": extra.name})
                st.rerun()


def show_thumbnails(frame: pd.DataFrame, labels: list[str]) -> None:
    """A row of thumbnails per class, so a wrong folder shows at a glance."""
    for label in labels:
        paths = frame.loc[frame["label"] == label, "image"].head(THUMBS_PER_CLASS).tolist()
        st.caption(f"**{label}**")
        cols = st.columns(THUMBS_PER_CLASS)
        for col, path in zip(cols, paths, strict=False):
            image = load_image(path)
            image.thumbnail((160, 160))
            col.image(image)


def show_findings(found: list[Finding]) -> None:
    if not found:
        st.success("No problems found in the images.", icon=":material/check_circle:")
    for finding in found:
        show = {"error": st.error, "warning": st.warning}.get(finding.severity, st.info)
        examples = f" Examples: {', '.join(map(str, finding.examples[:3]))}." if finding.examples else ""
        show(f"{finding.message} {finding.fix}{examples}", icon=ICONS[finding.severity])


def data_step(wiz: dict) -> None:
    """The Data step for images: upload, split, class counts, thumbnails and findings."""
    upload_section(wiz)
    if not wiz["data"].get("train"):
        st.info("Upload a ZIP with one sub-folder of images per class to begin.", icon=":material/upload_file:")
        st.stop()
    prepared = prepared_or_stop(wiz)
    rows = prepared.report["rows"]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Training images", f"{rows['train']:,}")
    m2.metric("Validation images", f"{rows['validation']:,}")
    m3.metric("Test images", f"{rows['test']:,}")
    m4.metric("Classes", len(prepared.labels))
    for warning in prepared.warnings:
        st.warning(warning)
    st.plotly_chart(charts.class_balance(prepared.report["class_counts"]["train"], "Images per class (training)"))
    st.subheader("A few images of each class")
    show_thumbnails(prepared.frames["train"], prepared.labels)
    st.subheader("Checks")
    show_findings(cached_findings(wiz["data"]["train"], _stamp(wiz["data"]["train"])))


def augment_step(cfg: dict) -> None:
    """The Augment step for images: pick transforms and a strength, see a seeded grid, re-roll it."""
    st.write("Augmentation shows the model a randomly altered version of each training image in every epoch "
             "(flipped, turned, cropped, recoloured), so it learns what matters rather than the exact pixels. "
             "Validation and test images are never altered. It applies to full fine-tuning: a frozen backbone "
             "computes each image's features once.")
    names = list(IMAGE_AUGMENTERS)
    chosen = st.multiselect("Augmentations", names, default=[n for n in cfg["image_augment"] if n in names],
                            format_func=lambda n: f"{n} — {IMAGE_AUGMENTERS[n]}")
    strength = st.slider("Strength", 0.0, 1.0, float(cfg["image_augment_strength"]), 0.1)
    if chosen != cfg["image_augment"] or strength != cfg["image_augment_strength"]:
        state.update_config(image_augment=chosen, image_augment_strength=float(strength))
        st.rerun()
    if not chosen:
        st.caption("Pick an augmentation above to see its effect on your images.")
        return
    seed = st.session_state.setdefault("image_preview_seed", 0)
    if st.button("Re-roll", icon=":material/casino:", help="Other images and other random variants."):
        st.session_state["image_preview_seed"] = seed = seed + 1
    try:
        train = cached_prepare(state.config()).frames["train"]
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        return
    paths = train.sample(min(4, len(train)), random_state=seed)["image"].tolist()
    for row in preview_image_augmentations(paths, chosen, strength, seed=seed, copies=4):
        cols = st.columns(5)
        cols[0].image(row["original"], caption="original")
        for col, image in zip(cols[1:], row["augmented"], strict=False):
            col.image(image, caption="augmented")


def show_mistake_grid(errors: list[dict]) -> None:
    """The misclassified test images with their true and predicted labels, most confident first."""
    if not errors:
        st.success("No mistakes on the test split.")
        return
    st.caption("Most confident mistakes first: these are often mislabelled or unusual pictures.")
    cols = st.columns(4)
    for i, row in enumerate(errors[:MISTAKES_SHOWN]):
        try:
            image = load_image(row["image"])
        except FineTuneError:
            continue
        image.thumbnail((200, 200))
        cols[i % 4].image(image, caption=f"true: {row['label']} · predicted: {row['predicted']} "
                                         f"({row['confidence']:.0%})")


def try_image(run: RunDir) -> None:
    """Classify an uploaded picture or a camera snapshot with the run's exported model."""
    from PIL import Image, UnidentifiedImageError

    source = st.radio("Picture from", ["Upload", "Camera"], horizontal=True)
    picture = (st.file_uploader("A picture to classify", type=["jpg", "jpeg", "png", "webp", "bmp", "gif"])
               if source == "Upload" else st.camera_input("Take a picture"))
    if picture is None:
        return
    try:
        image = Image.open(picture)
        image.load()
        scores = predict_images(predictor_for(run.model), [image])[0]
    except (UnidentifiedImageError, OSError):
        st.error("That file is not an image PIL can read. Try a JPEG or PNG.")
        return
    except FineTuneError as exc:
        st.error(f"**{exc.kind}:** {exc}")
        return
    best = next(iter(scores))
    left, right = st.columns([1, 2])
    left.image(image, width=220)
    right.markdown(f"Prediction: **{best}** ({scores[best]:.1%})")
    right.plotly_chart(charts.probabilities(scores))


def show_image_classification(report: dict, run: RunDir) -> None:
    """Accuracy and macro F1 against the majority class, confusion matrix, per-class table, mistakes, Try it."""
    task_views.show_headline(report, tasks.IMAGE, ("Misclassified", f"{report['error_count']:,}"))
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.confusion(report["confusion_matrix"], report["labels"]))
    right.dataframe(pd.DataFrame(report["per_class"]), hide_index=True,
                    column_config={**task_views.TABLE_COLUMNS, "label": "class"})
    st.subheader("Mistakes")
    show_mistake_grid(report.get("errors", []))
    st.subheader("Try it")
    try_image(run)
