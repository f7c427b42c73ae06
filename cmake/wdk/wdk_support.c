/*
 * wdk_support.c - what a Windows link of a driver gets from the WDK's
 * libraries and a Linux cross link with clang-cl cannot:
 *   - NPI_WSK_INTERFACE_ID, which <wsk.h> declares extern and the WDK's
 *     netio.lib defines (an import library made from a .def file has no data);
 *   - __readcr8, behind the WDK's inline KeGetCurrentIrql on x64: cl.exe
 *     expands it inline, clang before 15 emits a call.
 * Built only when the import libraries are generated (cmake/wdk.cmake), never
 * against the real WDK libraries. Includes no WDK header on purpose: the
 * WDK declares __readcr8 as an intrinsic.
 */

typedef struct {
    unsigned long Data1;
    unsigned short Data2;
    unsigned short Data3;
    unsigned char Data4[8];
} wdk_support_guid;

/* {2227E803-8D8B-11D4-ABAD-009027719E09}, as in the WSK documentation. */
const wdk_support_guid NPI_WSK_INTERFACE_ID = {
    0x2227E803, 0x8D8B, 0x11D4, {0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E, 0x09}};

unsigned long long __readcr8(void);

/* The current IRQL (CR8). Under Wine, drivers run in user mode and the
 * kernel emulation handles the privileged instruction. */
unsigned long long __readcr8(void)
{
    unsigned long long value;
    __asm__ __volatile__("movq %%cr8, %0" : "=r"(value));
    return value;
}
