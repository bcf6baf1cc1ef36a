// LZ4 skippable frames, which carry the backup objects' own metadata (docs/backup.md §3, §4):
// a little-endian u32 magic (0x184D2A50 to 0x184D2A5F), a little-endian u32 payload size, the
// payload. The lz4 tool and every LZ4 frame decoder skip them, so `lz4 -dc` of a backup object
// yields just its content.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace walstream::backup {

inline constexpr uint32_t kWalObjectHeaderMagic = 0x184D2A5D;
inline constexpr uint32_t kSnapshotIndexMagic = 0x184D2A5E;
inline constexpr uint32_t kSnapshotFooterMagic = 0x184D2A5F;
inline constexpr size_t kSkippableFrameHeaderSize = 8;

// Throws Error naming `what` when the payload does not fit the u32 size field.
std::string encodeSkippableFrame(uint32_t magic, std::span<const uint8_t> payload,
                                 std::string_view what);

// The payload size declared by the frame header at the start of `bytes`, which must have
// `magic`. Throws Error("<what>: ...") when fewer than 8 bytes are there or the magic differs.
uint32_t skippableFramePayloadSize(std::span<const uint8_t> bytes, uint32_t magic,
                                   std::string_view what);

// The payload of the frame at the start of `bytes`, all of whose bytes must be there (more may
// follow). Throws Error("<what>: ...") otherwise.
std::span<const uint8_t> skippableFramePayload(std::span<const uint8_t> bytes, uint32_t magic,
                                               std::string_view what);

}  // namespace walstream::backup
