# LibTorch linked straight from a folder laid out like PyTorch's package (ROOT/include, ROOT/lib), for
# when TorchConfig.cmake cannot be used: a CUDA build of it stops configuring on a machine without CUDA's
# compiler and toolkit, although the libraries themselves run there. Sets what find_package(Torch)
# would: TORCH_LIBRARIES, Torch_VERSION and, for a CUDA build, TORCH_CUDA_LIBRARIES.

set(root "${TUNEBENCH_TORCH_ROOT}")
set(api_include "${root}/include/torch/csrc/api/include")
if(NOT EXISTS "${api_include}/torch/version.h")
  message(FATAL_ERROR "TUNEBENCH_TORCH_ROOT=${root}: no include/torch/csrc/api/include/torch/version.h there")
endif()
# Recent LibTorch releases (2.15, at least) define the version in torch/headeronly/version.h, which
# torch/version.h includes.
set(version_header "${api_include}/torch/version.h")
if(EXISTS "${root}/include/torch/headeronly/version.h")
  set(version_header "${root}/include/torch/headeronly/version.h")
endif()
file(STRINGS "${version_header}" version_lines REGEX "#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
foreach(line IN LISTS version_lines)
  string(REGEX MATCH "TORCH_VERSION_([A-Z]+) ([0-9]+)" _ "${line}")
  set(torch_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
endforeach()
set(Torch_VERSION "${torch_MAJOR}.${torch_MINOR}.${torch_PATCH}")

function(tunebench_torch_library name out)
  find_library(TUNEBENCH_TORCH_LIB_${name} ${name} PATHS "${root}/lib" NO_DEFAULT_PATH)
  set(${out} "${TUNEBENCH_TORCH_LIB_${name}}" PARENT_SCOPE)
endfunction()

set(TORCH_LIBRARIES "")
foreach(name torch torch_cpu c10)
  tunebench_torch_library(${name} path)
  if(NOT path)
    message(FATAL_ERROR "TUNEBENCH_TORCH_ROOT=${root}: lib${name}.so not found in ${root}/lib")
  endif()
  list(APPEND TORCH_LIBRARIES "${path}")
endforeach()

add_library(tunebench_torch INTERFACE)
target_include_directories(tunebench_torch SYSTEM INTERFACE "${root}/include" "${api_include}")
target_link_libraries(tunebench_torch INTERFACE ${TORCH_LIBRARIES})

tunebench_torch_library(torch_cuda torch_cuda_path)
tunebench_torch_library(c10_cuda c10_cuda_path)
if(torch_cuda_path AND c10_cuda_path)
  # Nothing references libtorch_cuda by symbol; without --no-as-needed the linker drops it and CUDA
  # never registers.
  set(TORCH_CUDA_LIBRARIES "${torch_cuda_path};${c10_cuda_path}")
  target_link_libraries(tunebench_torch INTERFACE "-Wl,--no-as-needed" ${TORCH_CUDA_LIBRARIES} "-Wl,--as-needed")
  # The memory statistics need CUDA's runtime headers: from the toolkit or PyTorch's nvidia wheels.
  # PyTorch's own CUDA runtime before a toolkit's: the toolkit's folder in the run path would also lend its
  # (older) NCCL and cuDNN to libtorch_cuda, which then fails to link or load.
  find_path(TUNEBENCH_CUDA_RUNTIME_INCLUDE cuda_runtime_api.h NO_DEFAULT_PATH
            PATHS "${root}/../nvidia/cuda_runtime/include" "${root}/../nvidia/cu13/include"
                  "${root}/../nvidia/cu12/include" /usr/local/cuda/include)
  set(cudart "")
  foreach(pattern "${root}/../nvidia/cuda_runtime/lib/libcudart.so*" "${root}/../nvidia/cu13/lib/libcudart.so*"
                  "${root}/../nvidia/cu12/lib/libcudart.so*" /usr/local/cuda/lib64/libcudart.so)
    file(GLOB found "${pattern}")
    if(found AND NOT cudart)
      list(GET found 0 cudart)
    endif()
  endforeach()
  if(TUNEBENCH_CUDA_RUNTIME_INCLUDE AND cudart)
    target_include_directories(tunebench_torch SYSTEM INTERFACE "${TUNEBENCH_CUDA_RUNTIME_INCLUDE}")
    target_link_libraries(tunebench_torch INTERFACE "${cudart}")
    set(TUNEBENCH_TORCH_CUDA_HEADERS ON)
  else()
    message(WARNING "CUDA LibTorch without CUDA runtime headers: CUDA runs, but without memory statistics")
    set(TORCH_CUDA_LIBRARIES "")
  endif()
endif()
set(TORCH_LIBRARIES tunebench_torch)
if(TORCH_CUDA_LIBRARIES)
  message(STATUS "LibTorch ${Torch_VERSION} (CUDA) linked directly from ${root}")
else()
  message(STATUS "LibTorch ${Torch_VERSION} (CPU) linked directly from ${root}")
endif()
