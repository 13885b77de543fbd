#pragma once
/// @file
/// @brief Text records of the result sink: journal lines ("P"/"F") and CSV rows. Numbers use
/// std::to_chars' shortest round-trip form, so parsing a journal line gives back the identical
/// double and a resumed run rewrites byte-identical CSVs (and equal HDF5 datasets).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "laueproc/peak.hpp"
#include "laueproc/summary.hpp"

namespace laueproc::output {

/// First line of a journal: magic, format version, fingerprint, started_utc.
inline constexpr std::string_view kJournalMagic = "LAUEPROC-JOURNAL 2";
/// Every other journal line starts with the CRC-32 (8 lowercase hex digits) of the rest of the
/// line after one space, so an edited or damaged line is detected, not read as data.
inline constexpr std::size_t kChecksumChars = 8;

inline constexpr std::string_view kPeaksCsvHeader =
    "frame,peak,x,y,intensity,peak_value,npix,a,b,theta_deg,n_maxima,saturated,mxx,myy,mxy,edge,snr\n";
inline constexpr std::string_view kFramesCsvHeader =
    "frame,ix,iy,x_um,y_um,n_peaks,se,se_median,scenario,split_px,misorientation_deg,background,noise,"
    "status,n_used,split_dx,split_dy,pair_fraction,stacking_fraction,elongation,has_position\n";

/// @brief Appends `v` in its shortest round-trip form; NaN as "nan", infinities as "inf"/"-inf".
void append_double(std::string& out, double v);
void append_int(std::string& out, std::int64_t v);

/// @brief Journal line "<crc> P frame peak x y ... snr\n" (fields in peaks.csv order).
void append_journal_peak(std::string& out, const Peak& p);
/// @brief Journal line "<crc> F frame n_peak_lines ix iy has_position ... noise status\n"; the
/// status is the rest of the line (it must hold no newline: see sanitize_status()).
void append_journal_frame(std::string& out, const FrameSummary& f, std::int64_t n_peak_lines);
/// @brief Journal line "<crc> C <folder>\n": the run's CSV folder (empty: no CSV); the last one counts.
void append_journal_csv(std::string& out, const std::string& csv_dir);
/// @brief Journal line "<crc> I <key> <value>\n": one item of the run's provenance (see
/// output/journal.hpp); line breaks in the value become spaces.
void append_journal_info(std::string& out, std::string_view key, std::string_view value);
bool parse_journal_info(std::string_view line, std::string& key, std::string& value);
/// @brief The tag ('P', 'F', 'C', 'I') of a journal line without its '\n' whose checksum matches;
/// 0 when the line is damaged or edited.
char journal_line_tag(std::string_view line);
/// @brief Parses one journal line without its '\n'; false when its checksum does not match or
/// it is malformed.
bool parse_journal_peak(std::string_view line, Peak& p);
bool parse_journal_frame(std::string_view line, FrameSummary& f, std::int64_t& n_peak_lines);
bool parse_journal_csv(std::string_view line, std::string& csv_dir);

/// @brief CSV rows (with '\n') in the column order of the headers above. Booleans 0/1,
/// scenario by name, x_um/y_um "nan" for frames without a position, status quoted when needed.
void append_csv_peak(std::string& out, const Peak& p);
void append_csv_frame(std::string& out, const FrameSummary& f);

/// @brief Newlines and carriage returns become spaces (a status is one journal/CSV field).
std::string sanitize_status(std::string status);

}  // namespace laueproc::output
