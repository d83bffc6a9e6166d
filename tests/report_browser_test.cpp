// The HTML report in a real browser: Debian's headless chromium renders a report with a line
// chart, a heatmap and a table; a small PNG decoder (Python, zlib + NumPy) counts the pixels of
// the lines' and the heatmap's colours in the screenshot. A report whose charts are empty must
// fail the same check. Skipped only where chromium is not installed (.ci/run installs it).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "apps/report.hpp"
#include "lstm/error.hpp"
#include "test_util.hpp"

namespace {

using namespace lstm::report;
using test_util::CommandResult;
using test_util::run_command;
using test_util::shell_quote;
using test_util::TempDir;

// Decodes an 8-bit RGB(A) PNG and prints, for each colour asked for, how many pixels are within
// 24 per channel of it and how wide (in pixels) the columns holding them spread.
constexpr const char* kPixelCounter = R"(import struct, sys, zlib
import numpy as np

def decode(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, []
    while pos < len(data):
        size, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + size]
        pos += 12 + size
        if kind == b'IHDR':
            width, height, depth, colour_type, _, _, interlace = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, 'unsupported PNG'
    bpp = 3 if colour_type == 2 else 4
    rows = np.frombuffer(zlib.decompress(b''.join(idat)), np.uint8).reshape(height, width * bpp + 1)
    image = np.zeros((height, width * bpp), np.uint8)
    previous = np.zeros(width * bpp, np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:  # Sub: a running sum along each channel
            current = (np.cumsum(line.reshape(width, bpp).astype(np.int64), axis=0) & 255)
            current = current.astype(np.uint8).reshape(-1)
        elif kind == 2:  # Up
            current = line + previous
        else:  # Average or Paeth, byte by byte
            current, up = bytearray(line.tobytes()), previous.tobytes()
            for i in range(len(current)):
                a = current[i - bpp] if i >= bpp else 0
                b = up[i]
                c = up[i - bpp] if i >= bpp else 0
                if kind == 3:
                    predicted = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    predicted = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                current[i] = (current[i] + predicted) & 255
            current = np.frombuffer(bytes(current), np.uint8)
        image[y] = current
        previous = current
    return image.reshape(height, width, bpp)[:, :, :3].astype(np.int32)

image = decode(sys.argv[1])
for name, colour in zip(sys.argv[2::2], sys.argv[3::2]):
    target = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])
    near = np.all(np.abs(image - target) <= 24, axis=2)
    columns = np.nonzero(near.any(axis=0))[0]
    spread = int(columns[-1] - columns[0] + 1) if len(columns) else 0
    print(name, int(near.sum()), spread)
)";

struct Pixels {
  long count = 0;   // pixels of the colour
  long spread = 0;  // from the leftmost to the rightmost column holding one
};

class ReportBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_command("command -v chromium").exit_code != 0)
      GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  }

  // Runs headless chromium on the page with `mode` ("--screenshot=FILE" or "--dump-dom").
  CommandResult chromium(const std::string& page, const std::string& mode) {
    // Chromium is a separate, uninstrumented program: none of the sanitizers' settings, and a
    // home of its own for whatever it writes outside its profile.
    std::string command = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS HOME=";
    command += shell_quote(dir_.path().string()) + " timeout 90 chromium";
    command += " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars";
    command += " --no-first-run --user-data-dir=" + shell_quote(dir_.file("profile"));
    command += " --window-size=1100,1000 " + mode + " " + shell_quote("file://" + page);
    return run_command(command);
  }

  // Renders the page and measures the colours of the named pixels in the screenshot.
  std::map<std::string, Pixels> render(const Document& document, const std::string& name) {
    const std::string page = dir_.file(name + ".html"), png = dir_.file(name + ".png");
    save(document, page);
    const CommandResult shot = chromium(page, "--screenshot=" + shell_quote(png));
    EXPECT_EQ(shot.exit_code, 0) << shot.err;
    const std::string script = dir_.file("count_pixels.py");
    std::ofstream(script) << kPixelCounter;
    std::string command =
        shell_quote(LSTM_PYTHON) + " " + shell_quote(script) + " " + shell_quote(png);
    for (const auto& [colour_name, hex] : colours_)
      command += " " + colour_name + " " + shell_quote(hex);
    const CommandResult counted = run_command(command);
    EXPECT_EQ(counted.exit_code, 0) << counted.err;
    std::map<std::string, Pixels> pixels;
    std::istringstream lines(counted.out);
    std::string colour_name;
    Pixels measured;
    while (lines >> colour_name >> measured.count >> measured.spread)
      pixels[colour_name] = measured;
    return pixels;
  }

  // The charts are drawn: each line crosses most of its plot, and the heatmap shows large areas of
  // its blue and its red (a legend's sample line or a colour bar alone is far smaller).
  static ::testing::AssertionResult charts_drawn(const std::map<std::string, Pixels>& pixels) {
    for (const char* line : {"first_line", "second_line"}) {
      const Pixels measured = pixels.count(line) ? pixels.at(line) : Pixels{};
      if (measured.count < 400 || measured.spread < 500)
        return ::testing::AssertionFailure() << line << ": " << measured.count << " pixels over "
                                             << measured.spread << " columns";
    }
    for (const char* area : {"heat_blue", "heat_red"}) {
      const Pixels measured = pixels.count(area) ? pixels.at(area) : Pixels{};
      if (measured.count < 5000 || measured.spread < 200)
        return ::testing::AssertionFailure() << area << ": " << measured.count << " pixels over "
                                             << measured.spread << " columns";
    }
    return ::testing::AssertionSuccess();
  }

  TempDir dir_;
  // Okabe–Ito blue and vermillion (the first two lines), the diverging map's two ends.
  const std::map<std::string, std::string> colours_ = {{"first_line", "#0072b2"},
                                                       {"second_line", "#d55e00"},
                                                       {"heat_blue", "#2166ac"},
                                                       {"heat_red", "#b2182b"}};
};

// A report with data, or (empty = true) the same report whose charts have none.
Document sample_report(bool empty) {
  Document doc(empty ? "Empty charts" : "Browser check");
  LineChart loss{.title = "Loss", .x_label = "epoch", .y_label = "MSE", .log_y = true};
  Line training{.name = "training"}, validation{.name = "validation"};
  for (int epoch = 1; !empty && epoch <= 40; ++epoch) {
    training.x.push_back(epoch);
    training.y.push_back(std::exp(-0.15 * epoch));
    validation.x.push_back(epoch);
    validation.y.push_back(1.5 * std::exp(-0.1 * epoch));
  }
  loss.lines = {training, validation};
  doc.add(loss);

  const std::string text = "the cat sat on the mat <&> again\n";
  Heatmap gates{
      .title = "Input gate", .x_label = "character", .y_label = "unit", .diverging = true};
  if (!empty) {
    gates.rows = 6;
    gates.columns = static_cast<int64_t>(text.size());
    for (int64_t row = 0; row < gates.rows; ++row)
      for (int64_t column = 0; column < gates.columns; ++column)
        gates.values.push_back(column < gates.columns / 2 ? -1.0 : 1.0);
    for (char c : text) gates.column_labels.push_back(std::string(1, c));
  }
  doc.add(gates);
  doc.add(Table{
      .title = "Runs", .header = {"cell", "MSE"}, .rows = {{"lstm", "0.012"}, {"gru", "0.015"}}});
  return doc;
}

TEST_F(ReportBrowser, ScreenshotShowsTheCharts) {
  const auto pixels = render(sample_report(false), "report");
  EXPECT_TRUE(charts_drawn(pixels));
  for (const auto& [name, measured] : pixels)
    std::printf("%s: %ld pixels over %ld columns\n", name.c_str(), measured.count, measured.spread);
}

TEST_F(ReportBrowser, EmptyChartsFailTheSameCheck) {
  const auto pixels = render(sample_report(true), "empty");
  EXPECT_EQ(pixels.size(), colours_.size());  // the screenshot was measured
  EXPECT_FALSE(charts_drawn(pixels));
}

TEST_F(ReportBrowser, RenderedDomHoldsTheSvg) {
  const std::string page = dir_.file("dom.html");
  save(sample_report(false), page);
  const CommandResult dom = chromium(page, "--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  size_t svgs = 0;
  for (size_t at = dom.out.find("<svg"); at != std::string::npos; at = dom.out.find("<svg", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, 2u);
  EXPECT_NE(dom.out.find("<path"), std::string::npos);
  EXPECT_NE(dom.out.find("<rect"), std::string::npos);
  EXPECT_NE(dom.out.find("&lt;"), std::string::npos);  // the '<' under the time axis, as text
  EXPECT_EQ(dom.out.find("no data"), std::string::npos);
}

}  // namespace
