/* List a root filesystem from inside a container, one line per path:
 *   hex(path) type mode uid gid size ino hex(link) sha256(content) xattrs
 * Built statically at test time and bind-mounted into the container, so it runs in any
 * rock, even a bare one. It does not descend into mounts (proc, sys, dev, itself). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static dev_t root_dev;

static void hex(const unsigned char *data, size_t size) {
    if (size == 0) { putchar('-'); return; }
    for (size_t i = 0; i < size; i++) printf("%02x", data[i]);
}

/* SHA-256 (FIPS 180-4), so contents compare with the other readers' digests. */
static const uint32_t K[64] = {
    0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64], a, b, c, d, e, f, g, k;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4*i] << 24 | (uint32_t)p[4*i+1] << 16 | (uint32_t)p[4*i+2] << 8 | p[4*i+3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
        uint32_t s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_file(const char *path) {
    uint32_t h[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,
                     0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
    unsigned char buffer[64 * 1024], tail[128];
    uint64_t total = 0;
    size_t pending = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) { printf("unreadable"); return; }
    ssize_t got;
    while ((got = read(fd, buffer + pending, sizeof buffer - pending)) > 0) {
        total += (uint64_t)got;
        size_t have = pending + (size_t)got, done = 0;
        for (; have - done >= 64; done += 64) block(h, buffer + done);
        pending = have - done;
        memmove(buffer, buffer + done, pending);
    }
    close(fd);
    memset(tail, 0, sizeof tail);
    memcpy(tail, buffer, pending);
    tail[pending] = 0x80;
    size_t length = pending + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; i++) tail[length - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t done = 0; done < length; done += 64) block(h, tail + done);
    printf("sha256:");
    for (int i = 0; i < 8; i++) printf("%08x", h[i]);
}

static void xattrs(const char *path) {
    char names[65536];
    ssize_t length = llistxattr(path, names, sizeof names);
    if (length <= 0) { putchar('-'); return; }
    int first = 1;
    for (char *name = names; name < names + length; name += strlen(name) + 1) {
        unsigned char value[65536];
        ssize_t size = lgetxattr(path, name, value, sizeof value);
        if (size < 0) continue;
        printf("%s%s=", first ? "" : ",", name);
        hex(value, (size_t)size);
        first = 0;
    }
    if (first) putchar('-');
}

static void walk(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char child[8192];
        snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", entry->d_name);
        struct stat st;
        if (lstat(child, &st) != 0 || st.st_dev != root_dev) continue;
        char type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l'
                  : S_ISFIFO(st.st_mode) ? 'p' : S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : '?';
        char link[8192];
        ssize_t link_size = type == 'l' ? readlink(child, link, sizeof link) : 0;
        hex((const unsigned char *)child + 1, strlen(child) - 1);
        printf("\t%c\t%o\t%u\t%u\t%lld\t%llu\t", type, st.st_mode & 07777, st.st_uid, st.st_gid,
               type == 'f' ? (long long)st.st_size : 0LL, (unsigned long long)st.st_ino);
        hex((const unsigned char *)link, link_size > 0 ? (size_t)link_size : 0);
        putchar('\t');
        if (type == 'f') sha256_file(child); else putchar('-');
        putchar('\t');
        xattrs(child);
        putchar('\n');
        if (type == 'd') walk(child);
    }
    closedir(dir);
}

int main(void) {
    struct stat st;
    if (lstat("/", &st) != 0) return 1;
    root_dev = st.st_dev;
    walk("/");
    return 0;
}
