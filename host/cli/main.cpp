// laueproc: command-line entry point. Dispatches to one subcommand; turns every error into one
// line on stderr and a non-zero exit code (2: bad input, usage or an output that cannot be
// written; 1: an internal error, including running out of memory).
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/cmd_bench.hpp"
#include "cli/cmd_report.hpp"
#include "cli/cmd_correlate.hpp"
#include "cli/cmd_mask.hpp"
#include "cli/cmd_xanes.hpp"
#include "laueproc/error.hpp"
#include "laueproc/version.hpp"
#ifdef LAUEPROC_HAVE_CUDA
#include "laueproc/cuda.hpp"
#endif

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"demo", "simulate a small scan, process it and print where the results are",
     laueproc::cli::cmd_demo},
    {"process", "background, peaks, ellipses, streaking extent and scenarios for a scan",
     laueproc::cli::cmd_process},
    {"merge", "join the shard journals of process --shard i/N (job arrays) into one results file",
     laueproc::cli::cmd_merge},
    {"simulate", "write a synthetic scan with ground truth (stack or per-frame files)",
     laueproc::cli::cmd_simulate},
    {"info", "what a file or scan holds: frames, shape, dtype, chunks, filters, positions",
     laueproc::cli::cmd_info},
    {"mask", "static hot-pixel map learned from a scan, as a PGM for process --mask", laueproc::cli::cmd_mask},
    {"xanes", "white-line energy per pixel (XANES stack) or per spectrum (XDI / text)",
     laueproc::cli::cmd_xanes},
    {"index", "crystal orientations and hkl per frame (results file or peak list); single-crystal mask, maps",
     laueproc::cli::cmd_index},
    {"geometry", "print a detector geometry (LaueTools .det, 34-ID-E XML) in laueproc's model", laueproc::cli::cmd_geometry},
    {"correlate", "SE vs white-line statistics per particle, across particles and between states", laueproc::cli::cmd_correlate},
    {"report", "self-contained HTML report: maps, statistics, example peaks, XANES, provenance",
     laueproc::cli::cmd_report},
    {"bench", "measure this machine: CPU/CUDA frames/s, bandwidth floors, read rate", laueproc::cli::cmd_bench},
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "laueproc %s (%s): Laue micro-diffraction and micro-XANES processor\n\n"
               "usage: laueproc <command> [options]   (laueproc <command> --help for its options)\n\n"
               "commands:\n",
               laueproc::version(), laueproc::git_commit());
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n  --version  print the version and git commit\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("laueproc %s (commit %s)\n", laueproc::version(), laueproc::git_commit());
#ifdef LAUEPROC_HAVE_MPI
    std::printf("MPI: yes (mpirun/srun laueproc process)\n");
#else
    std::printf("MPI: no\n");
#endif
#ifdef LAUEPROC_HAVE_CUDA
    // What the CUDA backend would find: runtime built in, driver, devices, or why not.
    const laueproc::cuda::DeviceProbe p = laueproc::cuda::probe_devices();
    std::printf("cuda: runtime %d, driver %d, %d device(s)%s%s\n", p.runtime_version, p.driver_version, p.count,
                p.problem.empty() ? "" : ": ", p.problem.c_str());
    std::printf("%s", laueproc::cuda::describe_devices().c_str());
#endif
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(args);
    } catch (const laueproc::InputError& e) {
      std::fprintf(stderr, "laueproc %s: error: %s\n", c.name, e.what());
      return 2;
    } catch (const laueproc::OutputError& e) {
      std::fprintf(stderr, "laueproc %s: error: %s\n", c.name, e.what());
      return 2;
    } catch (const laueproc::UsageError& e) {
      std::fprintf(stderr, "laueproc %s: error: %s (see laueproc %s --help)\n", c.name, e.what(), c.name);
      return 2;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "laueproc %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "laueproc %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "laueproc: unknown command '%s' (laueproc --help lists them)\n", name.c_str());
  return 2;
}
