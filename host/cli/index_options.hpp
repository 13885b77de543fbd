#pragma once
/// @file
/// @brief Options of the indexing engine shared by `index`, `process --index` and `simulate`
/// (geometry, material, energy band, engine settings), and the run of an index over a scan.

#include <optional>
#include <string>

#include "cli/cli.hpp"
#include "laueproc/index.hpp"

namespace laueproc::cli {

struct IndexOptions {
  std::string geometry;      ///< .det or LaueGo XML
  std::string material;      ///< built-in name
  std::string lattice;       ///< a,b,c,alpha,beta,gamma (with space_group)
  int space_group = 0;
  std::string energy = "5:23";
  index::IndexSettings settings;
  bool no_strain = false;
};

/// @brief --geometry, --material, --lattice, --space-group, --energy and the engine settings.
void add_index_options(po::options_description& options, IndexOptions& o, bool with_geometry = true);
/// @brief The material asked for: --material NAME, or --lattice + --space-group. Throws UsageError.
index::Material resolve_material(const IndexOptions& o);
/// @brief Parses --energy LO:HI into the settings and checks the options; throws UsageError.
void finish_index_options(IndexOptions& o);

/// @brief Indexes the peaks of `input` (results file or peak list), writes the index into
/// `out_h5` (create: a new file; else groups added to a results file) and CSVs into csv_dir,
/// prints a summary on stderr (naming `shown_out`, or out_h5 when empty: the final name of a file
/// written under a temporary one). Returns the number of frames with at least one grain.
std::int64_t run_index(const std::string& input, const std::string& out_h5, bool create, const std::string& csv_dir,
                       const IndexOptions& o, int threads, const std::string& command_line, bool quiet,
                       const std::string& shown_out = "");

}  // namespace laueproc::cli
