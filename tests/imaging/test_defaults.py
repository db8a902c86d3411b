import subprocess
import sys


def test_the_defaults_load_no_image_library():
    # cli.py shows them in --help, which must stay instant.
    code = (
        "import sys; from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD; "
        "print(sorted(m for m in ('numpy', 'cv2', 'PIL', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_format_list_names_each_output_format_once():
    from pconv_cli.imaging.defaults import FORMAT_LIST, FORMATS

    names = FORMAT_LIST.replace(" or ", ", ").split(", ")
    assert FORMAT_LIST == "png, jpg, webp, tif or bmp"  # what --format's and -o's messages say
    assert sorted(FORMATS[n] for n in names) == sorted(set(FORMATS.values()))
