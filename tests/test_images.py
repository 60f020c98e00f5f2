"""Images in requests: each kind of bad input gets its own message that says what to do."""

import base64
import io

import pytest
from PIL import Image

from course_lib.images import (
    FORMATS,
    MAX_IMAGE_BYTES,
    ImageError,
    check_image_count,
    check_request_images,
    data_url,
    decode_data_url,
    image_parts,
    max_images,
    open_image,
)


def png_bytes(size=(32, 24), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_data_url_round_trips():
    image = Image.new("RGB", (20, 10), (0, 0, 255))
    url = data_url(image)
    assert url.startswith("data:image/png;base64,")
    back = open_image(url)
    assert back.size == (20, 10) and back.getpixel((3, 3)) == (0, 0, 255)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_every_supported_format_opens(fmt):
    assert fmt in FORMATS and open_image(png_bytes(fmt=fmt)).mode == "RGB"


def test_bytes_that_are_not_an_image():
    with pytest.raises(ImageError, match="not an image Pillow can read.*Send a PNG"):
        open_image(b"%PDF-1.7 this is a pdf, not a picture")


def test_a_truncated_image():
    with pytest.raises(ImageError, match="not an image"):
        open_image(png_bytes()[:60])


def test_an_unsupported_format_names_the_ones_that_work():
    with pytest.raises(ImageError, match="TIFF images are not supported.*PNG, JPEG"):
        open_image(png_bytes(fmt="TIFF"))


def test_an_image_over_the_size_limit_says_the_limit():
    with pytest.raises(ImageError, match=r"the limit is 5 MiB"):
        open_image(b"\x89PNG" + b"\0" * (MAX_IMAGE_BYTES + 1))


def test_too_many_pixels():
    big = io.BytesIO()
    Image.new("1", (5000, 4000)).save(big, format="PNG")  # 1-bit: a small file with many pixels
    with pytest.raises(ImageError, match="5000×4000 pixels; the limit is"):
        open_image(big.getvalue())


def test_a_data_url_that_is_not_base64():
    with pytest.raises(ImageError, match="data:image/png;base64"):
        decode_data_url("data:image/png,rawdata")
    with pytest.raises(ImageError, match="does not decode"):
        decode_data_url("data:image/png;base64,###not base64###")


def vision_config():
    from transformers import CLIPVisionConfig, LlavaConfig, Phi3Config

    return LlavaConfig(vision_config=CLIPVisionConfig(image_size=96, patch_size=12, hidden_size=16, intermediate_size=32,
                                                      num_hidden_layers=1, num_attention_heads=2),
                       text_config=Phi3Config(max_position_embeddings=512, pad_token_id=0), image_seq_length=64)


def test_more_images_than_the_context_holds():
    config = vision_config()
    assert max_images(config) == 6
    check_image_count(6, config)
    with pytest.raises(ImageError, match="7 images is more than tiny-phi-3.5-vision takes: at most 6"):
        check_image_count(7, config)


def test_request_checks_find_image_parts_and_refuse_images_for_a_text_model():
    good = data_url(Image.new("RGB", (8, 8)))
    messages = [{"role": "user", "content": [{"type": "text", "text": "What color?"},
                                             {"type": "image_url", "image_url": {"url": good}}]}]
    assert image_parts(messages) == [good]
    check_request_images(messages, "Phi-3.5-vision-instruct", local=False)  # a cloud model: the image is fine
    with pytest.raises(ImageError, match="tiny-phi-3.5-mini reads text only"):
        check_request_images(messages, "tiny-phi-3.5-mini", local=True)
    broken = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,"
                                                                                   + base64.b64encode(b"nope").decode()}}]}]
    with pytest.raises(ImageError, match="not an image"):
        check_request_images(broken, "Phi-3.5-vision-instruct", local=False)


def test_images_for_a_vision_model_that_is_not_built_leave_the_answer_to_the_server_check(monkeypatch):
    import course_lib.models

    monkeypatch.setattr(course_lib.models, "is_built", lambda name: False)
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(Image.new("RGB", (8, 8)))}}]}]
    check_request_images(messages, "tiny-phi-3.5-vision", local=True)  # no error here, no crash either
