/* A network the host program is: the guest's NIC is served by this program
 * (vmm/device.h network backend), which answers ARP and ping for 10.0.2.2
 * itself — no tap, no root, no host network touched.
 *
 *   host-net KERNEL INITRD [CMDLINE]
 *
 * Boots the riscv64 test Linux, whose test script
 * (tests/guest/linux/tests/net.sh, libvmm.test=run:net) gives eth0
 * 10.0.2.15/24 and pings 10.0.2.2 three times. Frames from the guest arrive
 * in net_send() on the NIC's worker thread; replies go back with
 * vmm_vm_net_receive(), which any thread may call.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <vmm/vmm.h>

static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t our_ip[4] = { 10, 0, 2, 2 };

static vmm_vm_t *the_vm;
static unsigned arp_replies, ping_replies, frames_seen;

static uint16_t checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void reply(const uint8_t *frame, size_t len)
{
    if (vmm_vm_net_receive(the_vm, "net0", frame, len) != 0)
        fprintf(stderr, "host-net: reply dropped: %s\n", vmm_last_error());
}

/* ARP request for 10.0.2.2: answer with our MAC. */
static void on_arp(const uint8_t *f, size_t len)
{
    if (len < 42 || f[20] != 0 || f[21] != 1 || memcmp(f + 38, our_ip, 4))
        return;
    uint8_t r[42];
    memcpy(r, f + 6, 6);       /* to the asker */
    memcpy(r + 6, our_mac, 6); /* from us */
    r[12] = 0x08, r[13] = 0x06;
    memcpy(r + 14, f + 14, 6); /* htype, ptype, hlen, plen */
    r[20] = 0, r[21] = 2;      /* reply */
    memcpy(r + 22, our_mac, 6);
    memcpy(r + 28, our_ip, 4);
    memcpy(r + 32, f + 22, 10); /* the asker's MAC and IP */
    arp_replies++;
    reply(r, sizeof(r));
}

/* ICMP echo request to 10.0.2.2: the same packet back as an echo reply. */
static void on_ipv4(const uint8_t *f, size_t len)
{
    if (len < 34)
        return;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    if (ihl < 20 || total < ihl + 8 || 14 + total > len || ip[9] != 1 || memcmp(ip + 16, our_ip, 4))
        return;
    const uint8_t *icmp = ip + ihl;
    if (icmp[0] != 8)
        return; /* not an echo request */
    static uint8_t r[1514];
    if (14 + total > sizeof(r))
        return;
    memcpy(r, f + 6, 6);
    memcpy(r + 6, our_mac, 6);
    r[12] = 0x08, r[13] = 0x00;
    uint8_t *rip = r + 14;
    memcpy(rip, ip, total);
    memcpy(rip + 12, ip + 16, 4); /* from us */
    memcpy(rip + 16, ip + 12, 4); /* to the sender */
    rip[8] = 64;                  /* ttl */
    rip[10] = rip[11] = 0;
    uint16_t c = checksum(rip, ihl);
    rip[10] = (uint8_t)(c >> 8), rip[11] = (uint8_t)c;
    uint8_t *ricmp = rip + ihl;
    ricmp[0] = 0; /* echo reply */
    ricmp[2] = ricmp[3] = 0;
    c = checksum(ricmp, total - ihl);
    ricmp[2] = (uint8_t)(c >> 8), ricmp[3] = (uint8_t)c;
    ping_replies++;
    reply(r, 14 + total);
}

/* The NIC's worker thread: one guest frame. */
static void net_send(void *opaque, const void *frame, size_t len)
{
    const uint8_t *f = frame;
    frames_seen++;
    if (len < 14)
        return;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x0806)
        on_arp(f, len);
    else if (type == 0x0800)
        on_ipv4(f, len);
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    if (ev->type == VMM_EVENT_CONSOLE)
        fwrite(ev->u.console.data, 1, ev->u.console.len, stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s KERNEL INITRD [CMDLINE]\n", argv[0]);
        return 2;
    }
    static const vmm_net_backend_ops_t ops = { .size = sizeof(ops), .send = net_send };
    vmm_net_config_t nic = { .size = sizeof(nic), .type = VMM_NET_HOST, .backend = &ops };
    vmm_host_t *host;
    vmm_config_t *cfg;
    if (vmm_host_new(&host, NULL) || vmm_config_new(&cfg))
        return 1;
    vmm_config_set_kernel(cfg, argv[1]);
    vmm_config_set_initrd(cfg, argv[2]);
    vmm_config_set_cmdline(cfg, argc > 3 ? argv[3] : "console=ttyS0 libvmm.test=run:net");
    vmm_config_set_memory(cfg, 128 << 20);
    int rc = vmm_config_add_nic(cfg, &nic);
    if (rc == 0)
        rc = vmm_vm_create(host, cfg, &the_vm);
    vmm_config_free(cfg);
    if (rc == 0) {
        vmm_vm_set_event_cb(the_vm, on_event, NULL);
        rc = vmm_vm_start(the_vm);
    }
    if (rc) {
        fprintf(stderr, "host-net: %s\n", vmm_last_error());
        return 1;
    }
    vmm_vm_wait(the_vm);
    vmm_outcome_t out = { .size = sizeof(out) };
    vmm_vm_outcome(the_vm, &out);
    vmm_vm_destroy(the_vm);
    vmm_host_free(host);
    printf("host-net: %u frames from the guest, %u ARP and %u ping replies\n", frames_seen,
           arp_replies, ping_replies);
    if (ping_replies < 3)
        return 1;
    return out.kind == VMM_OUTCOME_POWEROFF ? 0 : out.kind == VMM_OUTCOME_DEBUG_EXIT ? out.exit_code : 1;
}
