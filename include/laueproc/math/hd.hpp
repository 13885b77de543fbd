#pragma once
/// @file
/// @brief LAUEPROC_HD marks math shared by the CPU and CUDA paths: `__host__ __device__`
/// under nvcc, nothing for the host compiler, so one algorithm lives in one place.

#if defined(__CUDACC__)
#define LAUEPROC_HD __host__ __device__
#else
#define LAUEPROC_HD
#endif
