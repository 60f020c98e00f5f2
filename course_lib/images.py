"""Images in requests: open and check them, and turn them into data URLs. Torch-free, so every client can use it.

Each check raises an ImageError whose message says what to do: bytes that are not an image, a format the
course does not take, an image over the size limit (the limit is named), or more images than a model takes.
"""

from __future__ import annotations

import base64
import io
import re

from course_lib.errors import CourseError
from course_lib.i18n import t
from course_lib.models import VISION_MODEL as NAME

MAX_IMAGE_BYTES = 5 * 2**20  # 5 MiB per image: far more than the 96×96 pixels the tiny model sees
MAX_IMAGE_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")


class ImageError(CourseError):
    """An image the model cannot take: not an image, an unsupported format, too large, or too many."""


def max_images(config) -> int:
    """How many images fit one prompt: image_seq_length tokens each, with 128 positions left for text and answer."""
    return (config.text_config.max_position_embeddings - 128) // config.image_seq_length


def check_image_count(n: int, config) -> None:
    limit = max_images(config)
    if n > limit:
        raise ImageError(t("{n} images is more than {model} takes: at most {limit} per message ({each} tokens each in a "
                           "{context}-token context). Send fewer.", n=n, model=NAME, limit=limit,
                           each=config.image_seq_length, context=config.text_config.max_position_embeddings))


def open_image(source):
    """A PIL image from a PIL image, raw bytes, a data URL or a path, after the checks: readable, a supported
    format, and within the size limits. Each failure says what to do."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, Image.Image):
        return source.convert("RGB")
    if isinstance(source, str) and source.startswith("data:"):
        source = decode_data_url(source)
    data = source if isinstance(source, (bytes, bytearray)) else open(source, "rb").read()
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(t("The image is {size:.1f} MiB; the limit is {limit:.0f} MiB. "
                           "Resize it first (the course model sees 96×96 pixels anyway).", size=len(data) / 2**20,
                           limit=MAX_IMAGE_BYTES / 2**20))
    try:
        image = Image.open(io.BytesIO(data))
        fmt = image.format
        image.verify()  # a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ImageError(t("These {n} bytes are not an image Pillow can read (they start {start!r}). Send a {formats} file.",
                           n=len(data), start=bytes(data[:8]), formats=", ".join(FORMATS))) from None
    if fmt not in FORMATS:
        raise ImageError(t("{fmt} images are not supported. Convert it to one of {formats} "
                           "(e.g. Image.open(path).save('out.png')).", fmt=fmt, formats=", ".join(FORMATS)))
    image = Image.open(io.BytesIO(data))
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ImageError(t("The image is {width}×{height} pixels; the limit is {limit:,} pixels (4096×4096). Resize it first.",
                           width=image.width, height=image.height, limit=MAX_IMAGE_PIXELS))
    return image.convert("RGB")


def image_parts(messages: list[dict]) -> list[str]:
    """The image URLs in OpenAI-style messages (content parts of type image_url)."""
    urls = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = part.get("image_url")
                urls.append(url.get("url", "") if isinstance(url, dict) else str(url))
    return urls


def check_request_images(messages: list[dict], model: str, local: bool) -> None:
    """Before a chat request leaves: every inline image must open, and a course model must be able to take them."""
    urls = image_parts(messages)
    if not urls:
        return
    for url in urls:
        if url.startswith("data:"):
            open_image(url)  # raises ImageError with what to do
    if local and model != NAME:
        raise ImageError(t("{model} reads text only. Ask {vision} (course name 'phi-3.5-vision') about images.",
                           model=model, vision=NAME))
    from course_lib.models import is_built, model_dir

    if local and is_built(NAME):  # not built: the server check that follows says which models it has
        from transformers import AutoConfig

        check_image_count(len(urls), AutoConfig.from_pretrained(model_dir(NAME)))


def decode_data_url(url: str) -> bytes:
    match = re.match(r"data:([\w/+.-]*)(;base64)?,(.*)", url, re.S)
    if not match or not match.group(2):
        raise ImageError(t("An image data URL must look like data:image/png;base64,<data>. Encode the file with base64."))
    try:
        return base64.b64decode(match.group(3), validate=True)
    except ValueError:
        raise ImageError(t("The data URL's base64 part does not decode: encode the file's bytes with "
                           "base64.b64encode.")) from None


def data_url(image, fmt: str = "PNG") -> str:
    """A PIL image as a base64 data URL, the form the OpenAI API's image_url and Foundry's ImageUrl accept."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"
