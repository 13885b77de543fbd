// `laueproc report` as a user runs it: simulate -> process -> report gives one self-contained
// HTML page whose every image is an embedded PNG that a browser decodes; bad input is one line.
#include <gtest/gtest.h>

#include "e2e/program.hpp"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace laueproc::e2e;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(name);
    }
    closedir(d);
  }
  return out;
}

// Decodes the first bytes of a base64 payload (RFC 4648 alphabet).
std::string base64_prefix(const std::string& b64, std::size_t n_chars) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n_chars && i < b64.size(); ++i) {
    auto v = alphabet.find(b64[i]);
    if (v == std::string::npos) break;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFFu));
    }
  }
  return out;
}

// The payloads of every <img src="data:image/png;base64,..."> (no std::regex: libstdc++'s
// recursive matcher overflows the stack on 100 kB payloads).
std::vector<std::string> embedded_pngs(const std::string& html) {
  const std::string tag = "<img src=\"data:image/png;base64,";
  std::vector<std::string> out;
  for (auto pos = html.find(tag); pos != std::string::npos; pos = html.find(tag, pos + 1)) {
    const auto start = pos + tag.size();
    const auto end = html.find('"', start);
    if (end == std::string::npos) break;
    out.push_back(html.substr(start, end - start));
  }
  return out;
}

int count_substr(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

// One simulated scan and its results, shared by the tests (simulate + process take < 1 s).
class Report : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/laueproc-report-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto sim = run("simulate --out " + dir_ + "/scan.h5 --grid 3x3 --size 256 --seed 3 --quiet");
    ASSERT_EQ(sim.code, 0) << sim.out;
    auto proc = run("process " + dir_ + "/scan.h5 --out " + dir_ + "/results.h5 --quiet");
    ASSERT_EQ(proc.code, 0) << proc.out;
    // The process-only report, shared by the HTML and browser checks.
    report_ = run("report --process " + dir_ + "/results.h5 --out " + dir_ + "/r/report.html --frames-per-scenario 2");
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + dir_).c_str()); }
  static std::string dir_;
  static Result report_;
};
std::string Report::dir_;
Result Report::report_;

TEST_F(Report, ProcessOnlyReportIsSelfContainedHtmlWithPngs) {
  ASSERT_EQ(report_.code, 0) << report_.out;
  const std::string html = read_file(dir_ + "/r/report.html");
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);

  const auto pngs = embedded_pngs(html);
  // 4 maps + SE histogram + scenario counts + at least one gallery.
  EXPECT_GE(pngs.size(), 7u);
  EXPECT_EQ(count_substr(html, "<img "), static_cast<int>(pngs.size())) << "every image is an embedded PNG";
  for (const auto& p : pngs) {
    EXPECT_EQ(p.rfind("iVBORw0KGgo", 0), 0u);
    EXPECT_EQ(base64_prefix(p, 12).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  }
  // Every image has alt text; nothing is fetched from elsewhere.
  EXPECT_EQ(count_substr(html, "<img src=\"data:image/png;base64,"), count_substr(html, "\" alt=\""));
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);

  // Sections and provenance.
  for (const char* s : {"Maps", "Statistics over all frames", "Example peaks per scenario", "Provenance",
                        "settings.threshold.k_high", "input_files", "results.h5"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  EXPECT_EQ(html.find("scan frames not readable"), std::string::npos) << "the scan is there";

  // The same figures as files beside the HTML.
  const auto files = files_with_suffix(dir_ + "/r/report_figures", ".png");
  EXPECT_EQ(files.size(), pngs.size());
  for (const auto& name : {"map_se.png", "map_scenario.png", "map_n_peaks.png", "map_background.png", "hist_se.png",
                           "scenario_counts.png"})
    EXPECT_TRUE(exists(dir_ + "/r/report_figures/" + name)) << name;
  EXPECT_FALSE(files_with_suffix(dir_ + "/r/report_figures", ".png").empty());
  for (const auto& f : files) EXPECT_EQ(read_file(dir_ + "/r/report_figures/" + f).substr(0, 4), "\x89PNG") << f;
}

TEST_F(Report, BrowserLoadsEveryImage) {
  ASSERT_EQ(report_.code, 0) << report_.out;
  const std::string browser = "/usr/bin/chromium";
  if (::access(browser.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << browser << " (scripts/setup.sh installs it)";
  const std::string html = read_file(dir_ + "/r/report.html");
  const auto n_images = embedded_pngs(html).size();
  ASSERT_GT(n_images, 0u);
  // The page's own load handler writes data-image-check = "images-ok K/N" once every image
  // decoded (complete && naturalWidth > 0); the dumped DOM shows it.
  auto dom = run_command(browser + " --headless --no-sandbox --disable-gpu --user-data-dir=" + dir_ +
                             "/chromium-profile --virtual-time-budget=5000 --dump-dom file://" + dir_ +
                             "/r/report.html",
                         false);
  ASSERT_EQ(dom.code, 0) << dom.out.substr(0, 2000);
  const std::string expect = "images-ok " + std::to_string(n_images) + "/" + std::to_string(n_images);
  EXPECT_NE(dom.out.find("data-image-check=\"" + expect + "\""), std::string::npos) << dom.out.substr(0, 500);
  EXPECT_EQ(count_substr(dom.out, "<img "), static_cast<int>(n_images));
}

TEST_F(Report, MissingInputIsOneLineAndExit2) {
  auto missing = run("report --process " + dir_ + "/nope.h5 --out " + dir_ + "/x.html");
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(count_lines(missing.out), 1) << missing.out;
  EXPECT_NE(missing.out.find(dir_ + "/nope.h5"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("no such file"), std::string::npos) << missing.out;
  EXPECT_FALSE(exists(dir_ + "/x.html"));

  auto missing_xanes = run("report --process " + dir_ + "/results.h5 --xanes " + dir_ + "/nox.h5 --out " + dir_ +
                           "/x.html");
  EXPECT_EQ(missing_xanes.code, 2);
  EXPECT_EQ(count_lines(missing_xanes.out), 1) << missing_xanes.out;
  EXPECT_NE(missing_xanes.out.find(dir_ + "/nox.h5"), std::string::npos) << missing_xanes.out;

  // A file that is not a results file: the script's one-line error, exit 2.
  auto wrong = run("report --process " + dir_ + "/scan.h5 --out " + dir_ + "/x.html");
  EXPECT_EQ(wrong.code, 2);
  EXPECT_EQ(count_lines(wrong.out), 1) << wrong.out;
  EXPECT_NE(wrong.out.find("not a laueproc process results file"), std::string::npos) << wrong.out;

  auto no_scripts = run_command("LAUEPROC_SCRIPTS=" + dir_ + "/none " + kProgram + " report --process " + dir_ +
                                "/results.h5 --out " + dir_ + "/x.html");
  EXPECT_EQ(no_scripts.code, 2);
  EXPECT_EQ(count_lines(no_scripts.out), 1) << no_scripts.out;
  EXPECT_NE(no_scripts.out.find(dir_ + "/none/report.py"), std::string::npos) << no_scripts.out;

  auto help = run("report --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: laueproc report"), std::string::npos) << help.out;
}

TEST_F(Report, GallerySaysSoWhenTheScanIsGone) {
  // A results file whose scan was moved away: the report is still written, without a gallery.
  ASSERT_EQ(run("simulate --out " + dir_ + "/gone/scan.h5 --grid 2x1 --size 128 --quiet").code, 0);
  ASSERT_EQ(run("process " + dir_ + "/gone/scan.h5 --out " + dir_ + "/gone.h5 --quiet").code, 0);
  ASSERT_EQ(std::rename((dir_ + "/gone/scan.h5").c_str(), (dir_ + "/gone/moved.h5").c_str()), 0);
  auto r = run("report --process " + dir_ + "/gone.h5 --out " + dir_ + "/g.html --figures " + dir_ + "/gfig");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string html = read_file(dir_ + "/g.html");
  EXPECT_NE(html.find("scan frames not readable"), std::string::npos);
  for (const auto& f : files_with_suffix(dir_ + "/gfig", ".png")) EXPECT_NE(f.rfind("gallery_", 0), 0u) << f;
  EXPECT_TRUE(exists(dir_ + "/gfig/map_se.png"));
  EXPECT_GE(embedded_pngs(html).size(), 6u);
}

TEST_F(Report, XanesAndCorrelationSections) {
  // Needs the simulated XANES stack and the correlate command; skipped where they are not built.
  if (run("xanes --help").out.find("--simulate") == std::string::npos || run("correlate --help").code != 0)
    GTEST_SKIP() << "laueproc xanes --simulate or laueproc correlate not available";
  const std::string d = dir_ + "/x";
  ASSERT_EQ(run("simulate --out " + d + "/scan.h5 --grid 8x8 --size 128 --seed 4 --quiet").code, 0);
  ASSERT_EQ(run("process " + d + "/scan.h5 --out " + d + "/results.h5 --quiet").code, 0);
  auto sim = run("xanes --simulate " + d + "/stack.h5 --grid 8x8 --particles 3 --se-map " + d + "/results.h5");
  ASSERT_EQ(sim.code, 0) << sim.out;
  auto fit = run("xanes " + d + "/stack.h5 --out " + d + "/xanes.h5");
  ASSERT_EQ(fit.code, 0) << fit.out;
  auto corr = run("correlate --process " + d + "/results.h5 --xanes " + d + "/xanes.h5 --out " + d + "/corr.h5");
  ASSERT_EQ(corr.code, 0) << corr.out;

  auto r = run("report --process " + d + "/results.h5 --xanes " + d + "/xanes.h5 --correlation " + d +
               "/corr.h5 --out " + d + "/report.html --frames-per-scenario 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  const std::string html = read_file(d + "/report.html");
  for (const char* s : {"XANES: white line and particles", "Correlation of SE and white line", "pearson_r",
                        "laueproc correlate"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  for (const char* f : {"map_white_line.png", "scatter_se_white_line.png"})
    EXPECT_TRUE(exists(d + "/report_figures/" + f)) << f;
  EXPECT_EQ(files_with_suffix(d + "/report_figures", ".png").size(), embedded_pngs(html).size());
  bool histograms = false;
  for (const auto& f : files_with_suffix(d + "/report_figures", ".png")) histograms |= f.rfind("particle_hist", 0) == 0;
  EXPECT_TRUE(histograms);
}

}  // namespace
